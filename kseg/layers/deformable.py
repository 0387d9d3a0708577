"""Deformable convolution (Dai et al. 2017, v1; Zhu et al. 2019, v2 modulation) in TF ops."""

import keras
import tensorflow as tf


def bilinear_sample(images, rows, cols):
    """Sample `images` (B, H, W, C) at real positions, zero outside the image.

    Args:
        images: (B, H, W, C) float.
        rows, cols: (B, ...) float positions in pixels (0 = first row / column).

    Returns:
        (B, ..., C): each value the bilinear mix of its four neighbours, where neighbours
        outside the image count as 0 (the zero padding of a convolution).
    """
    shape = tf.shape(images)
    height, width, channels = shape[1], shape[2], shape[3]
    flat = tf.reshape(images, [shape[0], -1, channels])
    r0, c0 = tf.floor(rows), tf.floor(cols)
    out = 0.0
    for dr in (0.0, 1.0):
        for dc in (0.0, 1.0):
            r, c = r0 + dr, c0 + dc
            weight = (1.0 - tf.abs(rows - r)) * (1.0 - tf.abs(cols - c))
            inside = (r >= 0) & (r <= tf.cast(height - 1, r.dtype)) & (c >= 0) & (c <= tf.cast(width - 1, c.dtype))
            index = tf.cast(tf.clip_by_value(r, 0.0, tf.cast(height - 1, r.dtype)), tf.int32) * width + tf.cast(
                tf.clip_by_value(c, 0.0, tf.cast(width - 1, c.dtype)), tf.int32
            )
            batch_shape = tf.shape(index)
            values = tf.gather(flat, tf.reshape(index, [batch_shape[0], -1]), batch_dims=1)
            values = tf.reshape(values, tf.concat([batch_shape, [channels]], axis=0))
            out += values * (weight * tf.cast(inside, weight.dtype))[..., None]
    return out


@keras.saving.register_keras_serializable(package="kseg")
class DeformableConv2D(keras.layers.Layer):
    """Deformable convolution: each kernel tap samples the input at its regular position
    plus a learned, per-pixel offset (bilinear sampling), v1 of Dai et al. 2017; with
    `modulation=True` each tap is also scaled by a learned mask in (0, 1) (v2, Zhu et al.
    2019).

    Offsets (and masks) come from a convolution over the same input with the same kernel
    size, stride and dilation, initialised to zero, so an untrained layer is a plain
    convolution with "same" zero padding. Offsets are in input pixels, ordered
    (dy, dx) for each kernel tap in row-major order; masks pass through a sigmoid (0.5 at
    initialisation, as in v2). Sampling uses gathers and is pure TF, so the layer trains,
    saves and exports to SavedModel.

    Args:
        filters: int. Output channels.
        kernel_size: odd int. Defaults to 3.
        strides: int. Defaults to 1.
        dilation_rate: int. Spacing of the regular taps. Defaults to 1.
        use_bias: bool. Defaults to True.
        modulation: bool. v2 masks. Defaults to False.
        kernel_initializer: Defaults to "he_normal".

    Input: `(batch, H, W, C)`. Output: `(batch, ceil(H / strides), ceil(W / strides), filters)`.

    Example:
    >>> layer = DeformableConv2D(64, 3, dilation_rate=2)
    >>> layer(keras.ops.zeros((1, 32, 32, 16))).shape
    TensorShape([1, 32, 32, 64])

    Reference: Dai et al., "Deformable Convolutional Networks", ICCV 2017.
    """

    def __init__(
        self,
        filters,
        kernel_size=3,
        strides=1,
        dilation_rate=1,
        use_bias=True,
        modulation=False,
        kernel_initializer="he_normal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(filters) < 1:
            raise ValueError(f"Expected filters >= 1. Received: filters={filters}")
        if int(kernel_size) < 1 or int(kernel_size) % 2 == 0:
            raise ValueError(f"Expected an odd kernel_size >= 1. Received: kernel_size={kernel_size}")
        if int(strides) < 1 or int(dilation_rate) < 1:
            raise ValueError(
                f"Expected strides >= 1 and dilation_rate >= 1. Received: strides={strides}, dilation_rate={dilation_rate}"
            )
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.strides = int(strides)
        self.dilation_rate = int(dilation_rate)
        self.use_bias = bool(use_bias)
        self.modulation = bool(modulation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        taps = self.kernel_size**2
        self.offset_conv = keras.layers.Conv2D(
            taps * (3 if self.modulation else 2),
            self.kernel_size,
            strides=self.strides,
            dilation_rate=self.dilation_rate,
            padding="same",
            kernel_initializer="zeros",
            bias_initializer="zeros",
            name="offsets",
        )

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError("DeformableConv2D needs a known number of input channels")
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, self.kernel_size, channels, self.filters),
            initializer=self.kernel_initializer,
        )
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros") if self.use_bias else None
        self.offset_conv.build(input_shape)

    def call(self, inputs):
        inputs = tf.convert_to_tensor(inputs)
        k, taps = self.kernel_size, self.kernel_size**2
        predicted = tf.cast(self.offset_conv(inputs), tf.float32)
        out_h, out_w = tf.shape(predicted)[1], tf.shape(predicted)[2]
        offsets = tf.reshape(predicted[..., : 2 * taps], tf.concat([tf.shape(predicted)[:3], [taps, 2]], axis=0))
        # regular grid, as a "same"-padded convolution places its windows (TF's SAME puts the
        # odd padding pixel at the end): window i starts at i * stride - pad_before
        span = self.dilation_rate * (k - 1)
        centre_rows = self._centres(out_h, tf.shape(inputs)[1], span)
        centre_cols = self._centres(out_w, tf.shape(inputs)[2], span)
        tap = tf.cast(tf.range(k) - (k - 1) // 2, tf.float32) * self.dilation_rate
        tap_rows = tf.reshape(tf.repeat(tap, k), [1, 1, 1, taps])  # row-major taps
        tap_cols = tf.reshape(tf.tile(tap, [k]), [1, 1, 1, taps])
        rows = centre_rows[None, :, None, None] + tap_rows + offsets[..., 0]
        cols = centre_cols[None, None, :, None] + tap_cols + offsets[..., 1]
        sampled = bilinear_sample(tf.cast(inputs, tf.float32), rows, cols)  # (B, h, w, taps, C)
        if self.modulation:
            sampled = sampled * tf.sigmoid(predicted[..., 2 * taps :])[..., None]
        shape = tf.shape(sampled)
        columns = tf.reshape(sampled, tf.concat([shape[:3], [taps * shape[4]]], axis=0))
        kernel = tf.reshape(tf.cast(self.kernel, tf.float32), [-1, self.filters])
        out = tf.einsum("bhwk,kf->bhwf", columns, kernel)
        if self.use_bias:
            out = out + tf.cast(self.bias, tf.float32)
        return tf.cast(out, self.compute_dtype)

    def _centres(self, out_size, in_size, span):
        pad_before = tf.maximum((out_size - 1) * self.strides + span + 1 - in_size, 0) // 2
        return tf.cast(tf.range(out_size) * self.strides - pad_before + span // 2, tf.float32)

    def compute_output_shape(self, input_shape):
        def reduced(size):
            return None if size is None else -(-size // self.strides)

        return (input_shape[0], reduced(input_shape[1]), reduced(input_shape[2]), self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "dilation_rate": self.dilation_rate,
            "use_bias": self.use_bias,
            "modulation": self.modulation,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
