"""Convolutional CRF (Teichmann & Cipolla 2018): mean field with truncated Gaussian message passing."""

import math

import keras
import tensorflow as tf

from kseg.layers.crf.common import (
    CRF_DTYPE,
    assert_same_spatial_size,
    check_crf_input_shapes,
    check_iterations,
    check_positive,
)


def _blur_pads(size, blur):
    """Symmetric padding that makes `size` a multiple of `blur` (the reference's pad_0/pad_1)."""
    off = (blur - size % blur) % blur
    return (off + 1) // 2


def blur_pool(x, blur):
    """Average pool by `blur` with symmetric zero padding that is not counted (torch's
    `avg_pool2d(..., padding=pad, count_include_pad=False)`); output side `ceil(side / blur)`.

    Args:
        x: `(B, H, W, C)` float.
        blur: int >= 1.

    Returns:
        (pooled `(B, ceil(H/blur), ceil(W/blur), C)`, (pad_h, pad_w) as int32 scalars).
    """
    if blur == 1:
        return x, (tf.constant(0), tf.constant(0))
    shape = tf.shape(x)
    pad_h, pad_w = _blur_pads(shape[1], blur), _blur_pads(shape[2], blur)
    paddings = [[0, 0], [pad_h, pad_h], [pad_w, pad_w], [0, 0]]
    sums = tf.nn.avg_pool2d(tf.pad(x, paddings), blur, blur, "VALID")
    ones = tf.pad(tf.ones_like(x[..., :1]), paddings)
    counts = tf.nn.avg_pool2d(ones, blur, blur, "VALID")
    return sums / counts, (pad_h, pad_w)


def unblur(x, blur, pads, size):
    """Bilinear upsampling by `blur` (half-pixel centres), cropped back to `size` = (H, W)."""
    if blur == 1:
        return x
    shape = tf.shape(x)
    up = tf.image.resize(x, shape[1:3] * blur, method="bilinear")
    return up[:, pads[0] : pads[0] + size[0], pads[1] : pads[1] + size[1], :]


def _window_offsets(filter_size):
    span = filter_size // 2
    return [(dy, dx) for dy in range(-span, span + 1) for dx in range(-span, span + 1)]


def _shifted(padded, dy, dx, span, size):
    """`x[p + (dy, dx)]` (0 outside) from `x` zero-padded by `span`; `size` = (h, w) of x."""
    return tf.slice(padded, tf.stack([0, span + dy, span + dx, 0]), tf.stack([-1, size[0], size[1], -1]))


def _pad(x, span):
    return tf.pad(x, [[0, 0], [span, span], [span, span], [0, 0]])


@keras.saving.register_keras_serializable(package="kseg")
class ConvCRF(keras.layers.Layer):
    """Convolutional CRF: fully connected CRF truncated to a k x k window, mean-field inference.

    Reproduces the reference implementation (MarvinTeichmann/ConvCRF, `GaussCRF` with its
    `default_conf` semantics):
    - Kernels on features downsampled by `blur` (average pooling):
      `k(i, j) = bilateral_weight * exp(-|I_i - I_j|^2 / 2 theta_beta^2)
               + spatial_weight * exp(-|p_i - p_j|^2 / 2 theta_gamma^2)` for j in the
      `filter_size` window around i (the window includes i itself; kernels are not
      normalised). The colour kernel has no position term unless
      `colour_position_bias=True` (then `|p_i - p_j|^2 / 2 theta_alpha^2` is added, the
      reference's `use_bias`), so by default `theta_alpha` has no effect and locality comes
      from the window alone.
    - Mean field: `U = log_softmax(logits)`; `Q = U` for the first message (the reference
      passes log-probabilities first), then for each iteration
      `pred = (unary_weight - w) * U + w * message(Q)`, `Q = softmax(pred)`, where
      `message(Q)_i = sum_j k(i, j) Q_j` is computed on `blur`-pooled Q and upsampled
      bilinearly; the message is added (Potts compatibility up to a per-pixel constant).
      `w` is a per-class vector initialised to `weight_init`.
    - Returns `softmax(pred)` of the last iteration.

    With `learnable=True` the kernel weights, the inverse bandwidths and `w` are trainable;
    `learnable_compatibility=True` adds the reference's "convcomp": a 1x1 conv on the
    message, `message + conv(message)`, initialised to `0.1 * sqrt(2 / C)`. Gradients
    flow to the logits in any case, so the layer can sit inside a trained network.

    Args:
        num_iterations: int >= 1. Defaults to 5.
        filter_size: odd int. Window side. Defaults to 7 (the reference's demo; its
            default_conf says 11).
        blur: int >= 1. Downsampling of features and messages. Defaults to 4.
        theta_alpha: float. Position bandwidth of the colour kernel, used only with
            `colour_position_bias`. Defaults to 80.
        theta_beta: float. Colour bandwidth, in image units (0-255). Defaults to 13.
        theta_gamma: float. Position bandwidth of the smoothness kernel, in pixels.
            Defaults to 3.
        bilateral_weight: float. Weight of the colour kernel. Defaults to 10.
        spatial_weight: float. Weight of the smoothness kernel. Defaults to 3.
        colour_position_bias: bool. Defaults to False.
        weight_init: float. Initial message weight `w`. Defaults to 0.2.
        unary_weight: float. Defaults to 1.
        learnable: bool. Defaults to False.
        learnable_compatibility: bool. Defaults to False.

    Call arguments: `[logits, image]`, logits `(B, H, W, C)` (unary log-probabilities up to
    a constant), image `(B, H, W, 3)` RGB, uint8 or float in [0, 255].
    Output: probabilities `(B, H, W, C)`, float32.

    Example:
    >>> crf = ConvCRF(filter_size=7, num_iterations=5)
    >>> q = crf([logits, image])

    Reference: Teichmann & Cipolla, "Convolutional CRFs for Semantic Segmentation",
    arXiv 1805.04777, 2018.
    """

    def __init__(
        self,
        num_iterations=5,
        filter_size=7,
        blur=4,
        theta_alpha=80.0,
        theta_beta=13.0,
        theta_gamma=3.0,
        bilateral_weight=10.0,
        spatial_weight=3.0,
        colour_position_bias=False,
        weight_init=0.2,
        unary_weight=1.0,
        learnable=False,
        learnable_compatibility=False,
        **kwargs,
    ):
        kwargs.setdefault("dtype", CRF_DTYPE)
        super().__init__(**kwargs)
        check_iterations(num_iterations)
        check_positive(theta_alpha=theta_alpha, theta_beta=theta_beta, theta_gamma=theta_gamma)
        if not isinstance(filter_size, int) or filter_size < 1 or filter_size % 2 == 0:
            raise ValueError(f"Expected an odd integer filter_size >= 1. Received: filter_size={filter_size!r}")
        if not isinstance(blur, int) or blur < 1:
            raise ValueError(f"Expected an integer blur >= 1. Received: blur={blur!r}")
        self.num_iterations = num_iterations
        self.filter_size = filter_size
        self.blur = blur
        self.theta_alpha = float(theta_alpha)
        self.theta_beta = float(theta_beta)
        self.theta_gamma = float(theta_gamma)
        self.bilateral_weight = float(bilateral_weight)
        self.spatial_weight = float(spatial_weight)
        self.colour_position_bias = bool(colour_position_bias)
        self.weight_init = float(weight_init)
        self.unary_weight = float(unary_weight)
        self.learnable = bool(learnable)
        self.learnable_compatibility = bool(learnable_compatibility)

    def build(self, input_shape):
        num_classes = check_crf_input_shapes("ConvCRF", input_shape)
        self.num_classes = num_classes

        def scalar(name, value):
            return self.add_weight(
                name=name, shape=(), initializer=keras.initializers.Constant(value), trainable=self.learnable
            )

        self.inv_theta_gamma = scalar("inv_theta_gamma", 1.0 / self.theta_gamma)
        self.inv_theta_beta = scalar("inv_theta_beta", 1.0 / self.theta_beta)
        self.inv_theta_alpha = scalar("inv_theta_alpha", 1.0 / self.theta_alpha) if self.colour_position_bias else None
        self.spatial_compat = scalar("spatial_weight", self.spatial_weight)
        self.bilateral_compat = scalar("bilateral_weight", self.bilateral_weight)
        self.message_weight = self.add_weight(
            name="message_weight",
            shape=(num_classes,),
            initializer=keras.initializers.Constant(self.weight_init),
            trainable=self.learnable,
        )
        self.compatibility = (
            self.add_weight(
                name="compatibility",
                shape=(num_classes, num_classes),
                initializer=keras.initializers.Constant(0.1 * math.sqrt(2.0 / num_classes)),
            )
            if self.learnable_compatibility
            else None
        )

    def _kernel(self, image):
        """Window kernels on the blurred grid: `(B, h, w, filter_size**2)`."""
        shape = tf.shape(image)
        rows = tf.cast(tf.range(shape[1]), tf.float32)
        cols = tf.cast(tf.range(shape[2]), tf.float32)
        mesh = tf.stack(tf.meshgrid(rows, cols, indexing="ij"), axis=-1)
        mesh = tf.broadcast_to(mesh[None], tf.stack([shape[0], shape[1], shape[2], 2]))
        position = mesh * self.inv_theta_gamma
        colour = image * self.inv_theta_beta
        if self.inv_theta_alpha is not None:
            colour = tf.concat([mesh * self.inv_theta_alpha, colour], axis=-1)
        span = self.filter_size // 2
        kernel = 0.0
        for features, weight in ((position, self.spatial_compat), (colour, self.bilateral_compat)):
            pooled, _ = blur_pool(features, self.blur)
            size = tf.shape(pooled)[1:3]
            padded = _pad(pooled, span)
            diffs = [_shifted(padded, dy, dx, span, size) - pooled for dy, dx in _window_offsets(self.filter_size)]
            kernel += weight * tf.exp(-0.5 * tf.reduce_sum(tf.square(tf.stack(diffs, axis=3)), axis=-1))
        return kernel

    def _message(self, q, kernel, size):
        pooled, pads = blur_pool(q, self.blur)
        span = self.filter_size // 2
        grid = tf.shape(pooled)[1:3]
        padded = _pad(pooled, span)
        message = 0.0
        for o, (dy, dx) in enumerate(_window_offsets(self.filter_size)):
            message += kernel[..., o : o + 1] * _shifted(padded, dy, dx, span, grid)
        return unblur(message, self.blur, pads, size)

    def call(self, inputs):
        logits, image = inputs
        with tf.control_dependencies([assert_same_spatial_size("ConvCRF", logits, image)]):
            unary = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
        image = tf.cast(image, tf.float32)
        size = tf.shape(unary)[1:3]
        kernel = self._kernel(image)
        q = unary
        w = tf.cast(self.message_weight, tf.float32)
        for _ in range(self.num_iterations):
            message = self._message(q, kernel, size)
            if self.compatibility is not None:
                message = message + tf.einsum("bhwc,cd->bhwd", message, self.compatibility)
            pred = (self.unary_weight - w) * unary + w * message
            q = tf.nn.softmax(pred, axis=-1)
        return q

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {
            **super().get_config(),
            "num_iterations": self.num_iterations,
            "filter_size": self.filter_size,
            "blur": self.blur,
            "theta_alpha": self.theta_alpha,
            "theta_beta": self.theta_beta,
            "theta_gamma": self.theta_gamma,
            "bilateral_weight": self.bilateral_weight,
            "spatial_weight": self.spatial_weight,
            "colour_position_bias": self.colour_position_bias,
            "weight_init": self.weight_init,
            "unary_weight": self.unary_weight,
            "learnable": self.learnable,
            "learnable_compatibility": self.learnable_compatibility,
        }
