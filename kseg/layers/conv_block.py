"""The project's convolution block: an atrous (dilated) convolution (DeepLab v2 §3.1), then
optional BatchNormalization and activation."""

import keras
import tensorflow as tf

from kseg.layers.atrous import atrous_conv2d
from kseg.layers.batch_norm import FusedBatchNormalization
from kseg.layers.matmul_conv import matmul_conv2d, same_padding, uses_matmul_conv


@keras.saving.register_keras_serializable(package="kseg")
class ConvBNActivation(keras.layers.Layer):
    """Convolution with holes, `y[i] = sum_k x[i + rate * k] w[k]` (DeepLab v2 eq. 1), then
    optional BN and activation: ASPP's atrous branches (rate > 1) and every conv-BN-ReLU
    block of the decoders (often 1x1) alike.

    Computed with `tf.nn.conv2d(..., dilations=rate)`, which on CPU is faster than
    `keras.layers.Conv2D(dilation_rate=...)` at large rates (that one lowers to
    space-to-batch) and converts to ONNX as Pad + dilated Conv, with a gradient that exists
    on every backend (`kseg.layers.atrous`: TF's Eigen CPU kernels have none for rate > 1)
    -- except convs reducing
    over very many inputs (PAN's 7x7 over 2048 channels), which run as one matmul and a
    shifted sum (`kseg.layers.matmul_conv`), 3x faster here. Same weights either way.
    Stride is always 1 and padding "same", as in DeepLab: atrous convolution keeps the
    resolution of its input.

    Args:
        filters: int. Number of output channels.
        kernel_size: int. Side of the square kernel. Defaults to 3.
        rate: int. Dilation (atrous) rate r; the kernel covers `k + (k - 1)(r - 1)`
            pixels per side. Defaults to 1 (ordinary convolution).
        use_bias: bool. Add a bias. Defaults to True when `batch_norm` is False.
        batch_norm: bool. Follow the convolution with `BatchNormalization`.
            Defaults to False.
        activation: str or None. Activation after the (optional) normalisation, e.g.
            "relu". Defaults to None.
        kernel_initializer: initializer for the kernel. Defaults to "he_normal".
        bn_momentum: float. Momentum of the batch normalisation. Defaults to 0.99.
        bn_epsilon: float. Epsilon of the batch normalisation. Defaults to 1e-5.

    Input shape: `(batch, height, width, channels)`.
    Output shape: `(batch, height, width, filters)`.

    Example:
    >>> layer = ConvBNActivation(1024, kernel_size=3, rate=12)   # DeepLab-LargeFOV fc6
    >>> layer(keras.ops.ones((1, 41, 41, 512))).shape
    TensorShape([1, 41, 41, 1024])

    Reference: Chen et al., "DeepLab", TPAMI 2017, §3.1.
    """

    def __init__(
        self,
        filters,
        kernel_size=3,
        rate=1,
        use_bias=None,
        batch_norm=False,
        activation=None,
        kernel_initializer="he_normal",
        bn_momentum=0.99,
        bn_epsilon=1e-5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(filters) < 1:
            raise ValueError(f"Expected filters >= 1. Received: filters={filters}")
        if int(kernel_size) < 1:
            raise ValueError(f"Expected kernel_size >= 1. Received: kernel_size={kernel_size}")
        if int(rate) < 1:
            raise ValueError(f"Expected rate >= 1. Received: rate={rate}")
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.rate = int(rate)
        self.use_bias = (not batch_norm) if use_bias is None else bool(use_bias)
        self.batch_norm = bool(batch_norm)
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bn_momentum = float(bn_momentum)
        self.bn_epsilon = float(bn_epsilon)
        self.bn = (
            FusedBatchNormalization(
                momentum=self.bn_momentum, epsilon=self.bn_epsilon, name="bn", dtype=self.dtype_policy
            )
            if self.batch_norm
            else None
        )

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"ConvBNActivation needs a known channel count. Received: input_shape={input_shape}")
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, self.kernel_size, channels, self.filters),
            initializer=self.kernel_initializer,
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.filters,), initializer="zeros") if self.use_bias else None
        )
        if self.bn is not None:
            self.bn.build(tuple(input_shape[:-1]) + (self.filters,))

    def call(self, inputs, training=None):
        kernel = tf.cast(self.kernel, inputs.dtype)
        if uses_matmul_conv(self.kernel_size, inputs.shape[-1]):
            x = matmul_conv2d(inputs, kernel, self.rate)
        else:
            x = self._conv2d(inputs, kernel)
        if self.bias is not None:
            x = tf.nn.bias_add(x, tf.cast(self.bias, x.dtype))
        if self.bn is not None:
            x = self.bn(x, training=training)
        if self.activation is not None:
            x = self.activation(x)
        return x

    def _conv2d(self, inputs, kernel):
        # "same" as a zero pad + "VALID": ONNX Runtime rejects dilated Convs with
        # auto_pad=SAME_* (what tf2onnx emits for "SAME"), and TF's CPU kernels have no
        # gradient for dilated convs with explicit paddings.
        pad = list(same_padding(self.kernel_size, self.rate))
        x = tf.pad(inputs, [[0, 0], pad, pad, [0, 0]]) if sum(pad) else inputs
        return atrous_conv2d(x, kernel, self.rate)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "rate": self.rate,
            "use_bias": self.use_bias,
            "batch_norm": self.batch_norm,
            "activation": keras.activations.serialize(self.activation) if self.activation else None,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bn_momentum": self.bn_momentum,
            "bn_epsilon": self.bn_epsilon,
        }


# Models saved before the rename name the layer "kseg>AtrousConv2D"; they still load.
keras.saving.get_custom_objects()["kseg>AtrousConv2D"] = ConvBNActivation
