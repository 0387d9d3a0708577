"""The permutohedral lattice (kseg/layers/crf/permutohedral.py) on its own: its filter is the
exact Gaussian `sum_j exp(-|f_i - f_j|^2 / 2) v_j` (NumPy, O(N^2)) up to one constant factor,
as Adams et al. 2010 build it; groups never mix; the lattice is well formed. DenseCRF built on
it is checked against pydensecrf in test_densecrf.py."""

import numpy as np
import pytest
import tensorflow as tf

from kseg.layers.crf.permutohedral import MAX_FEATURES, build_lattice, lattice_filter


def _exact(features, values):
    return np.exp(-((features[:, None] - features[None]) ** 2).sum(-1) / 2) @ values


@pytest.mark.parametrize("dim, spread", [(2, 3.0), (3, 4.0), (5, 2.0)])  # DenseCRF's 2 (x, y) and 5 (x, y, r, g, b)
def test_the_filter_is_the_exact_gaussian_up_to_a_constant(dim, spread):
    rng = np.random.default_rng(dim)
    features = (rng.random((300, dim)) * spread).astype(np.float32)
    values = rng.random((300, 3)).astype(np.float32)
    exact = _exact(features, values)
    out = lattice_filter(build_lattice(features), values).numpy()
    ratio = out / exact
    assert np.corrcoef(out.ravel(), exact.ravel())[0, 1] > 0.97
    assert ratio.std() / ratio.mean() < 0.06  # one factor for every point and channel, measured 0.02-0.05
    assert 0.5 < ratio.mean() < 1.0


def test_the_lattice_is_well_formed():
    features = np.random.default_rng(1).random((200, 5)).astype(np.float32) * 3
    lattice = build_lattice(features)
    num_points = int(lattice.num_points)
    assert lattice.vertices.shape == (200, 6) and lattice.weights.shape == (200, 6) and lattice.neighbors.shape == (6, 2, num_points + 1)
    np.testing.assert_allclose(lattice.weights.numpy().sum(1), 1.0, atol=1e-5)  # barycentric
    assert lattice.weights.numpy().min() >= -1e-6
    assert 0 <= lattice.vertices.numpy().min() and lattice.vertices.numpy().max() < num_points
    assert (lattice.neighbors.numpy()[:, :, -1] == num_points).all()  # the empty slot points at itself


def test_groups_never_mix_and_far_points_keep_to_themselves():
    rng = np.random.default_rng(2)
    features = rng.random((100, 3)).astype(np.float32)
    twice = np.concatenate([features, features])
    values = rng.random((200, 2)).astype(np.float32)
    groups = tf.constant([0] * 100 + [1] * 100)
    alone = lattice_filter(build_lattice(features), values[:100]).numpy()
    together = lattice_filter(build_lattice(twice, groups), values).numpy()
    np.testing.assert_allclose(together[:100], alone, rtol=1e-5, atol=1e-6)  # group 1 adds nothing to group 0

    far = build_lattice(np.array([[0.0, 0.0], [20.0, 0.0], [0.5, 0.5]], np.float32))  # 20 standard deviations apart
    before = lattice_filter(far, np.array([[1.0], [2.0], [1.0]], np.float32)).numpy()
    after = lattice_filter(far, np.array([[1.0], [9.0], [1.0]], np.float32)).numpy()
    assert before[0] == after[0] and before[2] == after[2] and after[1] != before[1]
    near = lattice_filter(far, np.array([[1.0], [2.0], [5.0]], np.float32)).numpy()
    assert near[0] > before[0]  # the point half a deviation away does count


def test_runs_in_a_graph_of_unknown_size():
    build_and_filter = tf.function(
        lambda f, v: lattice_filter(build_lattice(f), v),
        input_signature=[tf.TensorSpec([None, 2], tf.float32), tf.TensorSpec([None, 1], tf.float32)],
    )
    features = np.random.default_rng(3).random((50, 2)).astype(np.float32)
    values = np.ones((50, 1), np.float32)
    np.testing.assert_allclose(build_and_filter(features, values), lattice_filter(build_lattice(features), values), rtol=1e-6)


@pytest.mark.parametrize("dim", [0, MAX_FEATURES + 1])
def test_the_feature_count_is_checked(dim):
    with pytest.raises(ValueError, match=f"build_lattice takes 1 to {MAX_FEATURES} features per point. Received features of shape \\(4, {dim}\\)"):
        build_lattice(np.zeros((4, dim), np.float32))
