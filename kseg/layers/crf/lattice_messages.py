"""The mean-field message `sum_k w_k D_k^-1/2 K_k D_k^-1/2 Q` of several lattice kernels at once.

Each kernel `K_k = a_k S_k B_k S_k^T` (splat S^T, blur B, slice S on a permutohedral
lattice, `a_k = 1 / (1 + 2^-d)`) with pydensecrf's symmetric normalisation
`D_k = K_k 1`. Folding `D_k^-1/2` into the rows of `S_k` (`S'_k = D_k^-1/2 S_k`) makes the
normalised kernel `a_k S'_k B_k S'_k^T`, and putting the kernels' `S'_k` side by side,
`S' = [S'_1 | S'_2 | ...]` (N rows, d_k+1 entries per row and kernel), makes the message
one splat and one slice for all kernels: `S' (blocks w_k a_k B_k) S'^T Q`. The rows (pixels)
are cut into `ROW_SHARDS` shards, each its own sparse matrix, so the splats and slices of
the shards run in parallel (`tf.sparse.sparse_dense_matmul` is single-threaded on CPU);
the mean field keeps Q as shards from start to end.
"""

import tensorflow as tf

from kseg.layers.crf.permutohedral import blur, lattice_filter, lattice_scale, slice_grid, splat

# Pixel rows are cut into this many shards. A constant, not the machine's core count, so
# that a result does not depend on where it ran (the splat sums the shards in order).
ROW_SHARDS = 4

METHODS = ("sparse_matmul", "gather")


def row_bounds(num_rows, shards=None):
    """Start of each of `shards` (default `ROW_SHARDS`) near-equal row ranges, and the end."""
    shards = shards or ROW_SHARDS
    return [(num_rows * i) // shards for i in range(shards + 1)]


class LatticeMessages:
    """`messages(q_shards, weights)` -> `[sum_k weights[k] * K_norm_k q]` per row shard.

    Args:
        lattices: list of `Lattice` over the same N points.
        method: "sparse_matmul" (`tf.sparse.sparse_dense_matmul`, fastest on CPU) or
            "gather" (`unsorted_segment_sum` and `gather`, which tf2onnx converts: it has
            no SparseTensorDenseMatMul). Same result to float rounding.
    """

    def __init__(self, lattices, method="sparse_matmul"):
        if method not in METHODS:
            raise ValueError(f"Expected method in {METHODS}. Received: method={method!r}")
        self.lattices = lattices
        self.method = method
        self.grid_sizes = [lattice.num_points + 1 for lattice in lattices]
        num_columns = sum(self.grid_sizes[1:], self.grid_sizes[0])  # not add_n: ONNX's Sum takes no int32
        columns, values, offset = [], [], 0
        for lattice, size in zip(lattices, self.grid_sizes):
            ones = tf.ones_like(lattice.weights[:, :1])
            norm = tf.math.rsqrt(lattice_filter(lattice, ones) + 1e-20)  # (N, 1)
            columns.append(lattice.vertices + offset)
            values.append(lattice.weights * norm)
            offset = offset + size
        columns, values = tf.concat(columns, axis=1), tf.concat(values, axis=1)  # (N, K)
        self.bounds = row_bounds(tf.shape(columns)[0])
        self.shards = []
        for start, stop in zip(self.bounds[:-1], self.bounds[1:]):
            cols, vals = columns[start:stop], values[start:stop]
            rows = tf.shape(cols)[0]
            matrix = None
            if method == "sparse_matmul":
                # Row-major order, as sparse_dense_matmul wants for both products used
                # (plain for slicing, adjoint for splatting); 3-8x faster than scatter/gather.
                indices = tf.stack([tf.repeat(tf.range(rows), tf.shape(cols)[1]), tf.reshape(cols, [-1])], axis=1)
                matrix = tf.SparseTensor(
                    tf.cast(indices, tf.int64), tf.reshape(vals, [-1]), tf.cast(tf.stack([rows, num_columns]), tf.int64)
                )
            self.shards.append((cols, vals, matrix))
        self.num_columns = num_columns

    def split(self, x):
        """Row shards of `x` (N, C), as the messages take and return them."""
        return [x[start:stop] for start, stop in zip(self.bounds[:-1], self.bounds[1:])]

    def __call__(self, q_shards, weights):
        grid = tf.add_n([self._splat(shard, q) for shard, q in zip(self.shards, q_shards)])
        grids = tf.split(grid, tf.stack(self.grid_sizes), axis=0)
        grid = tf.concat(
            [blur(lattice, g) * (w * lattice_scale(lattice)) for lattice, g, w in zip(self.lattices, grids, weights)],
            axis=0,
        )
        return [self._slice(shard, grid) for shard in self.shards]

    def _splat(self, shard, q):
        cols, vals, matrix = shard
        if matrix is not None:
            return tf.sparse.sparse_dense_matmul(matrix, q, adjoint_a=True)
        return splat(q, cols, vals, self.num_columns)

    def _slice(self, shard, grid):
        cols, vals, matrix = shard
        if matrix is not None:
            return tf.sparse.sparse_dense_matmul(matrix, grid)
        return slice_grid(grid, cols, vals)
