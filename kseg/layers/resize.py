"""Resizing to sizes known only at run time, with `tf.image.resize` (ONNX-convertible)."""

import math

import keras
import tensorflow as tf

_METHODS = ("bilinear", "nearest")


def _check_method(interpolation):
    if interpolation not in _METHODS:
        raise ValueError(f"Expected interpolation in {_METHODS}. Received: interpolation={interpolation!r}")
    return interpolation


@keras.saving.register_keras_serializable(package="kseg")
class ResizeLike(keras.layers.Layer):
    """Resize a feature map to the spatial size of a reference tensor.

    Bilinear with half-pixel centres (`tf.image.resize`), the interpolation DeepLab and
    PAN use to bring score maps back to the image size.

    Args:
        interpolation: "bilinear" or "nearest". Defaults to "bilinear".

    Call arguments: `[x, reference]` with x `(batch, h, w, c)` and reference
    `(batch, H, W, ...)`. Output: `(batch, H, W, c)` in x's dtype.
    """

    def __init__(self, interpolation="bilinear", **kwargs):
        super().__init__(**kwargs)
        self.interpolation = _check_method(interpolation)

    def call(self, inputs):
        x, reference = inputs
        size = tf.shape(reference)[1:3]
        return tf.cast(tf.image.resize(x, size, method=self.interpolation), x.dtype)

    def compute_output_shape(self, input_shape):
        x_shape, ref_shape = input_shape
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[-1])

    def get_config(self):
        return {**super().get_config(), "interpolation": self.interpolation}


@keras.saving.register_keras_serializable(package="kseg")
class ResizeByScale(keras.layers.Layer):
    """Resize images by a factor; the new side is `ceil(side * scale)`.

    `ceil` reproduces the sizes of DeepLab's Caffe multi-scale inputs (321 -> 161 at 0.5,
    241 at 0.75).

    Args:
        scale: float > 0. Resize factor.
        interpolation: "bilinear" or "nearest". Defaults to "bilinear".

    Input shape: `(batch, H, W, c)`. Output shape: `(batch, ceil(H*scale), ceil(W*scale), c)`, float.
    """

    def __init__(self, scale, interpolation="bilinear", **kwargs):
        super().__init__(**kwargs)
        if float(scale) <= 0:
            raise ValueError(f"Expected scale > 0. Received: scale={scale}")
        self.scale = float(scale)
        self.interpolation = _check_method(interpolation)

    def call(self, inputs):
        x = tf.cast(inputs, self.compute_dtype)
        if self.scale == 1.0:
            return x
        hw = tf.cast(tf.shape(x)[1:3], tf.float32) * self.scale
        size = tf.cast(tf.math.ceil(hw - 1e-4), tf.int32)
        return tf.cast(tf.image.resize(x, size, method=self.interpolation), x.dtype)

    def compute_output_shape(self, input_shape):
        def side(s):
            return None if s is None else int(math.ceil(s * self.scale - 1e-4))

        return (input_shape[0], side(input_shape[1]), side(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "interpolation": self.interpolation}


def subsample_labels(labels, size):
    """Label maps `(B, H, W)` or `(B, H, W, 1)` at `size = (h, w)` by nearest neighbour,
    corners aligned: cell i takes the label at row `round(i (H - 1) / (h - 1))`.

    That is the pixel a stride-s network's cell i is centred on for DeepLab's `s k + 1`
    crops (321 -> 41 at stride 8 takes every 8th row, 0 ... 320), the "ground truth
    subsampled by 8" of DeepLab v2 §4. Labels are never interpolated. Returns int32 of the
    input's rank.
    """
    labels = tf.convert_to_tensor(labels)
    squeeze = labels.shape.rank == 4
    if squeeze:
        labels = labels[..., 0]
    labels = tf.cast(labels, tf.int32)

    def indices(source, target):
        step = tf.cast(source - 1, tf.float64) / tf.cast(tf.maximum(target - 1, 1), tf.float64)
        return tf.cast(tf.round(tf.range(target, dtype=tf.float64) * step), tf.int32)

    height, width = tf.shape(labels)[1], tf.shape(labels)[2]
    rows = tf.gather(labels, indices(height, size[0]), axis=1)
    subsampled = tf.gather(rows, indices(width, size[1]), axis=2)
    return subsampled[..., None] if squeeze else subsampled
