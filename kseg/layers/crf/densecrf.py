"""Fully connected CRF (Krähenbühl & Koltun 2011; DeepLab v2 §3.3) with permutohedral filtering."""

import keras
import tensorflow as tf

from kseg.layers.crf.common import (
    CRF_DTYPE,
    assert_same_spatial_size,
    check_crf_input_shapes,
    check_iterations,
    check_positive,
)
from kseg.layers.crf.lattice_messages import METHODS, LatticeMessages
from kseg.layers.crf.permutohedral import build_lattice


def _grid_features(image, theta_position, theta_colour=None):
    """Per-pixel features (x / theta_p, y / theta_p[, r, g, b / theta_c]) flattened to (B*H*W, d).

    x is the column and y the row, in this order, as pydensecrf's DenseCRF2D builds them
    (the lattice is not invariant to the order of the feature axes).
    """
    shape = tf.shape(image)
    rows = tf.cast(tf.range(shape[1]), tf.float32)
    cols = tf.cast(tf.range(shape[2]), tf.float32)
    y, x = tf.meshgrid(rows, cols, indexing="ij")
    position = tf.stack([x, y], axis=-1) / theta_position
    position = tf.broadcast_to(position[None], tf.stack([shape[0], shape[1], shape[2], 2]))
    features = [position]
    if theta_colour is not None:
        features.append(tf.cast(image, tf.float32) / theta_colour)
    features = tf.concat(features, axis=-1)
    return tf.reshape(features, [-1, features.shape[-1]])


def mean_field(
    logits,
    image,
    num_iterations,
    theta_alpha,
    theta_beta,
    theta_gamma,
    bilateral_weight,
    spatial_weight,
    compatibility=None,
    implementation="sparse_matmul",
):
    """DenseCRF's computation as a function (see `DenseCRF`): logits (B, H, W, C), image
    (B, H, W, 3) in 0-255 -> probabilities (B, H, W, C) float32.

    The bandwidths and weights may be floats, scalar tensors or variables; a `tf.function`
    taking them as tensors traces once for all their values (as the grid search does).
    `compatibility`: optional (C, C) label compatibility (None: Potts).
    """
    with tf.control_dependencies([assert_same_spatial_size("DenseCRF", logits, image)]):
        logits = tf.cast(logits, tf.float32)
    shape = tf.shape(logits)
    num_classes = logits.shape[-1]
    groups = tf.repeat(tf.range(shape[0]), shape[1] * shape[2])
    lattices = [
        build_lattice(_grid_features(image, theta_alpha, theta_beta), groups),
        build_lattice(_grid_features(image, theta_gamma), groups),
    ]
    messages = LatticeMessages(lattices, implementation)
    weights = [tf.cast(bilateral_weight, tf.float32), tf.cast(spatial_weight, tf.float32)]
    unary = messages.split(tf.reshape(logits, [-1, num_classes]))

    def iteration(q):
        message = messages(q, weights)
        if compatibility is None:
            pairwise = message  # Potts: penalising other labels = rewarding the same label
        else:
            pairwise = [-tf.matmul(m, compatibility, transpose_b=True) for m in message]
        return [[tf.nn.softmax(u + p, axis=-1) for u, p in zip(unary, pairwise)]]

    # A loop, not num_iterations unrolled copies: the traced graph (and the memory and
    # time tracing takes) stays the same size whatever the number of iterations.
    q = [tf.nn.softmax(u, axis=-1) for u in unary]
    (q,) = tf.while_loop(
        lambda q: True,
        iteration,
        [q],
        shape_invariants=[[tf.TensorShape([None, num_classes])] * len(q)],
        maximum_iterations=num_iterations,
    )
    return tf.reshape(tf.concat(q, axis=0), shape)


class _TracedCall:
    """Holds the layer's traced function out of sight of TF object tracking (so SavedModels
    of the layer do not carry its eager traces)."""

    def __init__(self):
        self.function = None


@keras.saving.register_keras_serializable(package="kseg")
class DenseCRF(keras.layers.Layer):
    """Mean-field inference of the fully connected CRF with Gaussian edge potentials.

    Energy (DeepLab v2 eq. 2-3): unary `-log P(x_i)` plus, for every pair of pixels,
    `mu(x_i, x_j) [w1 exp(-|p_i-p_j|^2/2 theta_alpha^2 - |I_i-I_j|^2/2 theta_beta^2)
    + w2 exp(-|p_i-p_j|^2/2 theta_gamma^2)]` with Potts `mu`. Inference is the mean-field
    update of Krähenbühl & Koltun, computed exactly as pydensecrf computes it:
    `Q_0 = softmax(logits)`, then `num_iterations` times
    `Q = softmax(logits + w1 K_bilateral Q + w2 K_spatial Q)`, where each K is a Gaussian
    filter over all pixels evaluated on a permutohedral lattice
    (`kseg.layers.crf.permutohedral`) with symmetric normalisation. With
    `theta_alpha=80, theta_beta=13, theta_gamma=3, bilateral_weight=10, spatial_weight=3`
    this is pydensecrf's `addPairwiseBilateral(sxy=80, srgb=13, compat=10)` +
    `addPairwiseGaussian(sxy=3, compat=3)`.

    Defaults: the DeepLab v2 release's PASCAL VOC values for the bilateral kernel
    (w1 = 4, theta_alpha = 67, theta_beta = 3) and the paper's w2 = 3, theta_gamma = 3
    (§4.1.1); tune w1, theta_alpha, theta_beta per dataset (the paper searches w1 3-6,
    theta_alpha 30-100, theta_beta 3-6).

    `learnable=True` makes the two kernel weights and a label-compatibility matrix
    (initialised to Potts, `1 - I`) trainable, CRF-as-RNN style: the pairwise term is then
    `-(w1 K_b Q + w2 K_s Q) mu^T`. Gradients flow to the logits either way; the lattice
    itself (built from the image) is constant.

    Batches: the images of a batch share one lattice whose keys carry the batch index, so
    they never interact. All ops are TensorFlow ops: the layer runs under `tf.function`
    with unknown sizes and inside SavedModels.

    Args:
        num_iterations: int >= 1. Defaults to 10.
        theta_alpha: float > 0. Position bandwidth of the bilateral kernel, pixels. Defaults to 67.
        theta_beta: float > 0. Colour bandwidth of the bilateral kernel, 0-255 units. Defaults to 3.
        theta_gamma: float > 0. Bandwidth of the smoothness kernel, pixels. Defaults to 3.
        bilateral_weight: float. w1. Defaults to 4.
        spatial_weight: float. w2. Defaults to 3.
        learnable: bool. Defaults to False.
        implementation: "sparse_matmul" (fastest on CPU) or "gather" (converts to ONNX
            with tf2onnx, which lacks SparseTensorDenseMatMul); same results. Defaults to
            "sparse_matmul".

    Call arguments: `[logits, image]`: logits `(B, H, W, C)`, unary log-probabilities up
    to a constant (network logits or `log(prob)`); image `(B, H, W, 3)` RGB, uint8 or
    float in [0, 255].
    Output: probabilities `(B, H, W, C)`, float32.

    Example:
    >>> crf = DenseCRF(num_iterations=10)
    >>> q = crf([logits, image])

    References: Krähenbühl & Koltun, "Efficient Inference in Fully Connected CRFs with
    Gaussian Edge Potentials", NIPS 2011; Adams, Baek & Davis, "Fast High-Dimensional
    Filtering Using the Permutohedral Lattice", 2010; Chen et al., DeepLab v2, §3.3.
    """

    def __init__(
        self,
        num_iterations=10,
        theta_alpha=67.0,
        theta_beta=3.0,
        theta_gamma=3.0,
        bilateral_weight=4.0,
        spatial_weight=3.0,
        learnable=False,
        implementation="sparse_matmul",
        **kwargs,
    ):
        kwargs.setdefault("dtype", CRF_DTYPE)
        super().__init__(**kwargs)
        check_iterations(num_iterations)
        if implementation not in METHODS:
            raise ValueError(f"Expected implementation in {METHODS}. Received: implementation={implementation!r}")
        self.implementation = implementation
        check_positive(theta_alpha=theta_alpha, theta_beta=theta_beta, theta_gamma=theta_gamma)
        self.num_iterations = num_iterations
        self.theta_alpha = float(theta_alpha)
        self.theta_beta = float(theta_beta)
        self.theta_gamma = float(theta_gamma)
        self.bilateral_weight = float(bilateral_weight)
        self.spatial_weight = float(spatial_weight)
        self.learnable = bool(learnable)
        self._eager = _TracedCall()

    def build(self, input_shape):
        num_classes = check_crf_input_shapes("DenseCRF", input_shape)
        self.w_bilateral = self.add_weight(
            name="bilateral_weight",
            shape=(),
            initializer=keras.initializers.Constant(self.bilateral_weight),
            trainable=self.learnable,
        )
        self.w_spatial = self.add_weight(
            name="spatial_weight",
            shape=(),
            initializer=keras.initializers.Constant(self.spatial_weight),
            trainable=self.learnable,
        )
        self.compatibility = (
            self.add_weight(
                name="compatibility",
                shape=(num_classes, num_classes),
                initializer=lambda shape, dtype=None: 1.0 - tf.eye(shape[0], dtype=dtype or "float32"),
            )
            if self.learnable
            else None
        )

    def call(self, inputs):
        logits, image = inputs
        if tf.executing_eagerly():
            # Called eagerly, the hundreds of small ops of the lattice and the iterations
            # would each be dispatched from Python: run them as one traced graph instead.
            if self._eager.function is None:
                self._eager.function = tf.function(self._mean_field, reduce_retracing=True)
            return self._eager.function(logits, image)
        return self._mean_field(logits, image)

    def _mean_field(self, logits, image):
        return mean_field(
            logits,
            image,
            self.num_iterations,
            theta_alpha=self.theta_alpha,
            theta_beta=self.theta_beta,
            theta_gamma=self.theta_gamma,
            bilateral_weight=self.w_bilateral,
            spatial_weight=self.w_spatial,
            compatibility=self.compatibility,
            implementation=self.implementation,
        )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {
            **super().get_config(),
            "num_iterations": self.num_iterations,
            "theta_alpha": self.theta_alpha,
            "theta_beta": self.theta_beta,
            "theta_gamma": self.theta_gamma,
            "bilateral_weight": self.bilateral_weight,
            "spatial_weight": self.spatial_weight,
            "learnable": self.learnable,
            "implementation": self.implementation,
        }
