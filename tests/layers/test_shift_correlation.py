"""Shift correlation, similarity head and the Spatial Correlation Loss (RelationNet §II-A3,
eq. 4-6) against NumPy references."""

import json

import keras
import numpy as np
import pytest

from kseg.layers import ShiftCorrelation, SimilarityHead
from kseg.layers.relation import NEIGHBOUR_OFFSETS
from kseg.losses import SpatialCorrelationLoss


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
