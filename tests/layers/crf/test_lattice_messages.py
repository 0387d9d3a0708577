import numpy as np
import pytest
import tensorflow as tf

from kseg.layers import DenseCRF
from kseg.layers.crf.densecrf import _grid_features
from kseg.layers.crf.lattice_messages import ROW_SHARDS, LatticeMessages, row_bounds
from kseg.layers.crf.permutohedral import build_lattice, lattice_filter


def _normalised(lattice, q):
    norm = tf.math.rsqrt(lattice_filter(lattice, tf.ones_like(q[:, :1])) + 1e-20)
    return lattice_filter(lattice, q * norm) * norm


@pytest.mark.parametrize("method", ["sparse_matmul", "gather"])
def test_sharded_combined_message_equals_the_kernels_filtered_one_by_one(method):
    rng = np.random.RandomState(0)
    image = tf.constant(rng.randint(0, 255, (2, 13, 17, 3)).astype("float32"))
    groups = tf.repeat(tf.range(2), 13 * 17)
    lattices = [build_lattice(_grid_features(image, 8.0, 13.0), groups), build_lattice(_grid_features(image, 3.0), groups)]
    q = tf.nn.softmax(tf.constant(rng.randn(2 * 13 * 17, 5).astype("float32")))
    messages = LatticeMessages(lattices, method)
    got = tf.concat(messages(messages.split(q), [4.0, 3.0]), axis=0).numpy()
    want = (4.0 * _normalised(lattices[0], q) + 3.0 * _normalised(lattices[1], q)).numpy()
    assert len(messages.shards) == ROW_SHARDS
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_row_bounds_cover_every_row_once_even_with_fewer_rows_than_shards():
    assert row_bounds(10, 4) == [0, 2, 5, 7, 10]
    assert row_bounds(2, 4) == [0, 0, 1, 1, 2]


def test_an_image_with_fewer_pixels_than_shards():
    rng = np.random.RandomState(1)
    logits = rng.randn(1, 1, 2, 3).astype("float32")
    q = DenseCRF(num_iterations=2)([logits, np.full((1, 1, 2, 3), 100.0, "float32")]).numpy()
    assert q.shape == (1, 1, 2, 3)
    np.testing.assert_allclose(q.sum(-1), 1.0, rtol=1e-5)


def test_unknown_method():
    with pytest.raises(ValueError, match="method in"):
        LatticeMessages([], "hash")
