"""Permutohedral-lattice Gaussian filtering (Adams, Baek & Davis 2010) in pure TensorFlow ops.

Approximates `out_i = sum_j exp(-|f_i - f_j|^2 / 2) v_j` for N points with d-dimensional
(pre-scaled) features in O(N d^2) instead of O(N^2), the way Krähenbühl & Koltun's dense
CRF code does (`permutohedral.cpp`), step for step, so that a dense CRF built on it
means what pydensecrf means:

1. each feature vector is elevated onto the hyperplane `H_d` of R^(d+1) (scaled so the
   lattice blur approximates a unit Gaussian) and its enclosing simplex found (nearest
   remainder-0 point, rank of the differentials); barycentric weights on the d+1
   vertices;
2. remainder-0 vertices get int64 keys (mixed-radix packing of their coordinates plus a
   group digit, e.g. the batch index, so images of a batch never share lattice points);
   `tf.unique` numbers the distinct simplices (neighbouring pixels mostly share one), the
   keys of their vertices follow from the rank vector (the packing is linear), a second
   `tf.unique` over those numbers the lattice points, and a third over keys and
   candidate keys finds each point's two neighbours along each of the d+1 lattice
   directions (no hash table of our own, no string ops);
3. filtering = splat (barycentric-weighted scatter-add), blur ([1/2, 1, 1/2] along each
   direction in turn), slice (barycentric gather), scaled by `1 / (1 + 2^-d)` as in the
   reference.

Static graph: works under `tf.function` with unknown N, and in SavedModels.
"""

import collections
import math

import numpy as np
import tensorflow as tf

# Simplices are keyed by (vertex number < N, rank code < (d+1)^d) in int64.
MAX_FEATURES = 8

Lattice = collections.namedtuple("Lattice", ["vertices", "weights", "neighbors", "num_points", "dim"])
Lattice.__doc__ = """A built lattice.

vertices: (N, d+1) int32 lattice-point index of each point's simplex vertices.
weights: (N, d+1) float32 barycentric weights.
neighbors: (d+1, 2, M+1) int32 indices of the two neighbours of every lattice point
    along each direction; M (the "empty" slot, whose value stays 0) where there is none.
num_points: int32 scalar M.
dim: python int d.
"""


def _elevation_matrix(d):
    """(d, d+1) matrix taking scaled features onto the hyperplane (reference's 'elevate')."""
    e = np.zeros((d, d + 1), np.float32)
    for i in range(d):
        e[i, 0] = 1.0
        for j in range(1, d + 1):
            if i >= j:
                e[i, j] = 1.0
            elif i == j - 1:
                e[i, j] = -float(j)
    return e


def _scale_factors(d):
    inv_std_dev = math.sqrt(2.0 / 3.0) * (d + 1)
    return np.array([inv_std_dev / math.sqrt((i + 1) * (i + 2)) for i in range(d)], np.float32)


def _pairs(d1):
    """Constant matrices over the d1*(d1-1)/2 coordinate pairs (i < j): `difference` (d1, P)
    takes a row to its `x_j - x_i`; `to_first`, `to_second` (P, d1) send a pair's count to
    i or j."""
    pairs = [(i, j) for i in range(d1) for j in range(i + 1, d1)]
    difference = np.zeros((d1, len(pairs)), np.float32)
    to_first = np.zeros((len(pairs), d1), np.float32)
    to_second = np.zeros((len(pairs), d1), np.float32)
    for p, (i, j) in enumerate(pairs):
        difference[i, p], difference[j, p] = -1.0, 1.0
        to_first[p, i] = to_second[p, j] = 1.0
    return difference, to_first, to_second


def _enclosing_simplex(elevated, d):
    """The remainder-0 vertex (N, d+1) int32 and the rank (N, d+1) of each coordinate of the
    simplex enclosing each elevated point (Adams et al. 2010, §3.1)."""
    d1 = d + 1
    v = elevated / d1
    up = tf.math.ceil(v) * d1
    down = tf.math.floor(v) * d1
    rem0 = tf.where(up - elevated < elevated - down, up, down)
    total = tf.cast(tf.round(tf.reduce_sum(rem0, axis=1, keepdims=True) / d1), tf.int32)  # (N, 1)

    # rank[i] = #{j > i: diff_j > diff_i} + #{j < i: diff_j >= diff_i}, diff = elevated - rem0:
    # over each pair i < j the later-larger test credits i, its negation j (two small matmuls;
    # the counts are small integers, exact in float32).
    difference, to_first, to_second = _pairs(d1)
    later_larger = tf.cast(tf.matmul(elevated - rem0, difference) > 0, tf.float32)  # (N, P)
    rank = tf.cast(tf.matmul(later_larger, to_first - to_second) + to_second.sum(axis=0), tf.int32)
    # Bring the remainder-0 point back onto the hyperplane: the ranks shift by `total`, and
    # coordinates whose rank wraps around (past d or below 0) move by -/+ (d+1).
    shifted = rank + total
    wrap = tf.cast(shifted >= d1, tf.int32) - tf.cast(shifted < 0, tf.int32)  # floordiv by d+1, ONNX-safe
    rem0_i = tf.cast(tf.round(rem0), tf.int32) - d1 * wrap
    return rem0_i, shifted - d1 * wrap


def _barycentric_weights(elevated, rem0_i, d):
    """Each point's weights (N, d+1) on its simplex's vertices.

    With u the offsets `(elevated - rem0) / (d+1)` sorted in decreasing order (which is the
    rank order), vertex 0 gets `1 + u_d - u_0` and vertex s >= 1 gets `u_(d-s) - u_(d+1-s)`.
    """
    d1 = d + 1
    u = tf.math.top_k((elevated - tf.cast(rem0_i, tf.float32)) / d1, k=d1).values  # (N, d+1)
    combination = np.zeros((d1, d1), np.float32)
    combination[d, 0], combination[0, 0] = 1.0, -1.0
    for s in range(1, d1):
        combination[d - s, s], combination[d + 1 - s, s] = 1.0, -1.0
    return tf.matmul(u, combination) + np.eye(1, d1, dtype=np.float32)


def _point_keys(rem0_i, d, groups):
    """Each point's remainder-0 vertex as an int64 key (N,), packed mixed-radix with a margin
    of 2(d+1) on each side so that the keys of its simplex's vertices and of their
    neighbours (coordinates moved by at most 2d) never alias another key; points of
    different `groups` get disjoint key ranges. Returns (keys, radix (d,), a check that the
    range fits int64)."""
    d1 = d + 1
    coords = tf.cast(rem0_i[:, :d], tf.int64)
    low = tf.reduce_min(coords, axis=0) - 2 * d1
    span = tf.reduce_max(coords, axis=0) - low + 2 * d1 + 1
    radices = [tf.constant(1, tf.int64)]
    for i in range(d - 1):
        radices.append(radices[-1] * span[i])
    radix = tf.stack(radices)  # (d,)
    key_range = radices[-1] * span[d - 1]
    keys = tf.reduce_sum((coords - low) * radix, axis=1)
    num_groups = tf.cast(tf.reduce_max(groups) + 1, tf.float64) if groups is not None else 1.0
    check = tf.debugging.assert_less(
        tf.cast(key_range, tf.float64) * num_groups,
        tf.constant(2.0**62, tf.float64),
        message="permutohedral lattice: feature range too large to pack the keys into int64; "
        "increase the kernel bandwidths (theta) or split the image",
    )
    if groups is not None:
        keys = keys + tf.cast(groups, tf.int64) * key_range
    return keys, radix, check


def _simplex_ids(point_keys, rank, d):
    """(N,) int32 index of each point's simplex among the S distinct ones, numbered in order
    of first appearance, and S. A simplex is its remainder-0 vertex and its rank vector (whose
    first d entries determine it)."""
    _, vertex_id = tf.unique(point_keys, out_idx=tf.int32)
    rank_code = tf.reduce_sum(tf.cast(rank[:, :d], tf.int64) * ((d + 1) ** np.arange(d, dtype=np.int64)), axis=1)
    distinct, simplex = tf.unique(tf.cast(vertex_id, tf.int64) * (d + 1) ** d + rank_code, out_idx=tf.int32)
    return simplex, tf.shape(distinct)[0]


def _vertex_keys(point_keys, rank, radix, d):
    """(S, d+1) int64 keys of the d+1 vertices of simplices given by their remainder-0
    vertex's key and rank vector: vertex r is the remainder-0 point plus the canonical
    offset `r` on coordinates ranked below d+1-r and `r - (d+1)` on the others."""
    d1 = d + 1
    total_radix = tf.reduce_sum(radix)
    zero = tf.zeros_like(radix)
    keys = [point_keys]
    for r in range(1, d1):
        lowered = tf.reduce_sum(tf.where(rank[:, :d] >= d1 - r, radix, zero), axis=1)
        keys.append(point_keys + r * total_radix - d1 * lowered)
    return tf.stack(keys, axis=1)


def _neighbours(unique_keys, radix, d):
    """(d+1, 2, M+1) lattice index of each vertex's neighbour along each direction, forwards
    and backwards; M (the extra empty vertex) where there is none."""
    # Neighbours along direction j: coordinates + d at j and -1 elsewhere (j = d: -1 everywhere).
    # Looked up with a second tf.unique over [keys, queries]: the keys come first and are
    # distinct, so a query's index is below M exactly when it is an existing key, and is
    # then that key's lattice index.
    d1 = d + 1
    num_points = tf.shape(unique_keys)[0]
    steps = np.full((d1, d), -1, np.int64)
    for j in range(d):
        steps[j, j] = d
    step_keys = tf.reduce_sum(tf.constant(steps) * radix[None, :], axis=1)  # (d+1,)
    queries = tf.stack([unique_keys[None, :] + step_keys[:, None], unique_keys[None, :] - step_keys[:, None]], axis=1)
    _, found = tf.unique(tf.concat([unique_keys, tf.reshape(queries, [-1])], axis=0), out_idx=tf.int32)
    found = found[num_points:]
    neighbor = tf.reshape(tf.where(found < num_points, found, num_points), [d1, 2, num_points])
    return tf.concat([neighbor, tf.fill([d1, 2, 1], num_points)], axis=2)


def build_lattice(features, groups=None):
    """Build the lattice for `features` (N, d) float32, already divided by their bandwidths.

    Args:
        features: (N, d) float tensor.
        groups: optional (N,) int tensor; points of different groups never interact.

    Returns:
        Lattice.
    """
    features = tf.cast(features, tf.float32)
    d = int(features.shape[-1])
    if not 1 <= d <= MAX_FEATURES:
        raise ValueError(f"build_lattice takes 1 to {MAX_FEATURES} features per point. Received features of shape {features.shape}")
    d1 = d + 1
    n = tf.shape(features)[0]

    elevated = tf.matmul(features * _scale_factors(d), _elevation_matrix(d))  # (N, d+1)
    rem0_i, rank = _enclosing_simplex(elevated, d)
    weights = _barycentric_weights(elevated, rem0_i, d)
    point_keys, radix, check = _point_keys(rem0_i, d, groups)
    # Neighbouring pixels mostly share a simplex: key the distinct simplices' vertices only
    # (same lattice numbering as keying every point's vertices, in a third of the work).
    with tf.control_dependencies([check]):
        simplex, num_simplices = _simplex_ids(point_keys, rank, d)
    # Any member of a simplex stands for it (scattered, a duplicate index keeps one of its
    # values; unsorted_segment_min would not convert to ONNX).
    member = tf.tensor_scatter_nd_update(tf.zeros([num_simplices], tf.int32), simplex[:, None], tf.range(n))
    keys = _vertex_keys(tf.gather(point_keys, member), tf.gather(rank, member), radix, d)
    unique_keys, vertex_index = tf.unique(tf.reshape(keys, [-1]), out_idx=tf.int32)
    num_points = tf.shape(unique_keys)[0]
    vertices = tf.gather(tf.reshape(vertex_index, [-1, d1]), simplex)
    neighbors = _neighbours(unique_keys, radix, d)
    return Lattice(vertices, weights, neighbors, num_points, d)


def blur(lattice, grid, reverse=False):
    """[1/2, 1, 1/2] along each lattice direction in turn, on `grid` (M+1, C); row M is the
    empty slot (it receives nothing and stays 0), so missing neighbours contribute nothing.
    `reverse` blurs the directions in reverse order (the reference's transpose). The result
    is not yet scaled by the reference's `1 / (1 + 2^-d)` (`lattice_scale`)."""
    directions = range(lattice.dim, -1, -1) if reverse else range(lattice.dim + 1)
    for j in directions:
        grid = grid + 0.5 * (tf.gather(grid, lattice.neighbors[j, 0]) + tf.gather(grid, lattice.neighbors[j, 1]))
    return grid


def lattice_scale(lattice):
    """The reference's normalisation of splat-blur-slice, `1 / (1 + 2^-d)`."""
    return 1.0 / (1.0 + 2.0 ** (-lattice.dim))


def splat(values, vertices, weights, grid_size):
    """Barycentric-weighted scatter-add of `values` (N, C) onto a grid (grid_size, C):
    point n adds `weights[n, r] * values[n]` to row `vertices[n, r]`, for each r."""
    weighted = values[:, None, :] * weights[:, :, None]  # (N, K, C)
    return tf.math.unsorted_segment_sum(
        tf.reshape(weighted, [-1, tf.shape(values)[1]]), tf.reshape(vertices, [-1]), grid_size
    )


def slice_grid(grid, vertices, weights):
    """Barycentric interpolation (N, C) of `grid` (rows, C) at each point's `vertices` (N, K)."""
    return tf.reduce_sum(tf.gather(grid, vertices) * weights[:, :, None], axis=1)


def lattice_filter(lattice, values, reverse=False):
    """Gaussian-filter `values` (N, C) on `lattice`: splat, blur, slice. Returns (N, C) float32.

    The plain form (segment sum and gather); `kseg.layers.crf.lattice_messages` filters
    with several lattices at once, faster.
    """
    grid = splat(tf.cast(values, tf.float32), lattice.vertices, lattice.weights, lattice.num_points + 1)
    grid = blur(lattice, grid, reverse)
    return slice_grid(grid, lattice.vertices, lattice.weights) * lattice_scale(lattice)
