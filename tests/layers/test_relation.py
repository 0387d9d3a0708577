"""RelationModule: rows then columns through bidirectional GRUs, checked against running the
same GRU layers on each row and column one at a time."""

import keras
import numpy as np
import pytest

from kseg.layers import RelationModule
from tests.test_case import run_layer_test


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
