"""RelationNet's layers (kseg/layers/relation.py): the RelationModule (rows then columns through
bidirectional GRUs, checked against running the same GRU layers on each row and column one at a
time); shift correlation, the similarity head and the Spatial Correlation Loss (§II-A3, eq. 4-6)
against NumPy references."""

import json

import keras
import numpy as np
import pytest

from kseg.layers import RelationModule, ShiftCorrelation, SimilarityHead
from kseg.layers.relation import NEIGHBOUR_OFFSETS
from kseg.losses import SpatialCorrelationLoss
from tests.layer_case import run_layer_test


def _features(shape=(2, 4, 5, 6), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_equals_row_by_row_then_column_by_column():
    x = _features()
    layer = RelationModule(hidden_size=3)
    got = layer(x).numpy()
    rows = np.stack([layer.rows(x[:, r]).numpy() for r in range(x.shape[1])], axis=1)  # each row a sequence over W
    want = np.stack([layer.columns(rows[:, :, c]).numpy() for c in range(x.shape[2])], axis=2)  # each column over H
    assert got.shape == (2, 4, 5, 6)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_every_output_sees_the_whole_map_and_rows_mix_first():
    x = _features((1, 5, 6, 4))
    layer = RelationModule(hidden_size=4)
    base = layer(x).numpy()
    changed = x.copy()
    changed[0, 0, 0] += 5.0  # top-left corner
    diff = np.abs(layer(changed).numpy() - base).max(-1)[0]
    assert (diff > 1e-7).all()  # bottom-right too: row pass then column pass reach everything
    # the row pass alone only carries the change along row 0
    row_out = layer._along_rows(layer.rows, changed).numpy() - layer._along_rows(layer.rows, x).numpy()
    assert np.abs(row_out[0, 1:]).max() == 0 and np.abs(row_out[0, 0]).max(-1).min() > 0


def test_layer_contract():
    run_layer_test(
        RelationModule,
        {"hidden_size": 3},
        _features((2, 3, 4, 5)),
        expected_output_shape=(2, 3, 4, 6),
        expected_num_trainable_weights=12,
    )


def test_any_size_and_a_bad_hidden_size():
    layer = RelationModule(hidden_size=2)
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, layer(inputs))
    for size in ((3, 7), (6, 2)):
        assert model(_features((1, *size, 3))).shape == (1, *size, 4)
    with pytest.raises(ValueError, match="hidden_size >= 1"):
        RelationModule(hidden_size=0)



def _neighbour(a, i, j, dh, dw, fill):
    h, w = a.shape[:2]
    return a[i + dh, j + dw] if 0 <= i + dh < h and 0 <= j + dw < w else fill


def test_shift_correlation_against_numpy():
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5)).astype("float32")
    got = ShiftCorrelation()(x).numpy()
    assert got.shape == (2, 3, 4, 9, 10)
    for b in range(2):
        for i in range(3):
            for j in range(4):
                for k, (dh, dw) in enumerate(NEIGHBOUR_OFFSETS):
                    np.testing.assert_array_equal(got[b, i, j, k, :5], x[b, i, j])
                    np.testing.assert_array_equal(got[b, i, j, k, 5:], _neighbour(x[b], i, j, dh, dw, np.zeros(5)))


def test_similarity_head_shapes_and_round_trip():
    features = ShiftCorrelation()(np.ones((1, 3, 3, 4), "float32"))
    head = SimilarityHead(hidden=8)
    out = head(features)
    assert out.shape == (1, 3, 3, 9) and out.dtype == "float32"
    clone = keras.saving.deserialize_keras_object(json.loads(json.dumps(keras.saving.serialize_keras_object(head))))
    clone(features)
    clone.set_weights(head.get_weights())
    np.testing.assert_allclose(clone(features).numpy(), out.numpy())
    with pytest.raises(ValueError, match="hidden >= 1"):
        SimilarityHead(hidden=0)


def _scl_reference(labels, logits, ignore=255):
    """Eq. 4-6 with loops: alpha/beta from the batch's valid pairs, mean over valid pairs."""
    terms, kinds = [], []
    b_, h, w = labels.shape
    for b in range(b_):
        for i in range(h):
            for j in range(w):
                for k, (dh, dw) in enumerate(NEIGHBOUR_OFFSETS):
                    other = _neighbour(labels[b], i, j, dh, dw, ignore)
                    if labels[b, i, j] == ignore or other == ignore:
                        continue
                    p = 1 / (1 + np.exp(-logits[b, i, j, k]))
                    same = labels[b, i, j] == other
                    kinds.append(same)
                    terms.append((same, np.log(p) if same else np.log(1 - p)))
    positives = sum(kinds)
    negatives = len(kinds) - positives
    alpha, beta = positives / len(kinds), negatives / len(kinds)
    return -sum((beta if same else alpha) * value for same, value in terms) / len(kinds)


def test_spatial_correlation_loss_against_numpy_with_ignored_pixels():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, (2, 5, 6))
    labels[0, 1, 2] = 255
    labels[1, :, 0] = 255
    logits = rng.normal(size=(2, 5, 6, 9)).astype("float32") * 2
    got = float(SpatialCorrelationLoss()(labels, logits))
    np.testing.assert_allclose(got, _scl_reference(labels, logits), rtol=1e-5)


def test_spatial_correlation_loss_takes_labels_at_the_prediction_size():
    rng = np.random.default_rng(2)
    small = rng.integers(0, 2, (1, 4, 4))
    large = np.repeat(np.repeat(small, 8, axis=1), 8, axis=2)  # 32x32, nearest-downsamples to `small`
    logits = rng.normal(size=(1, 4, 4, 9)).astype("float32")
    loss = SpatialCorrelationLoss()
    np.testing.assert_allclose(float(loss(large, logits)), float(loss(small, logits)), rtol=1e-6)
    restored = SpatialCorrelationLoss.from_config(loss.get_config())
    assert restored.ignore_label == 255
