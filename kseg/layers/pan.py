"""PAN's Feature Pyramid Attention (§3.1, Fig. 3) and Global Attention Upsample (§3.2, Fig. 4)."""

import keras
import tensorflow as tf

from kseg.layers.conv_block import ConvBNActivation
from kseg.layers.tracking import ContainerTracking

_POOLING = ("average", "max")
_GLOBAL_FUSION = ("add", "concat")


def _resize_to(x, reference):
    return tf.cast(tf.image.resize(x, tf.shape(reference)[1:3], method="bilinear"), x.dtype)


@keras.saving.register_keras_serializable(package="kseg")
class FeaturePyramidAttention(ContainerTracking, keras.layers.Layer):
    """Feature Pyramid Attention (FPA): pixel-level attention from a U-shaped pyramid.

    On the backbone's last feature map `x` (1/16 of the image in PAN):
    - pyramid, downward: pool by 2 -> 7x7 conv (1/2 of the map), pool -> 5x5 conv
      (1/4), pool -> 3x3 conv (1/8), each conv + BN + ReLU ("C357" with average pooling,
      the best row of Tab. 1);
    - pyramid, upward (U-shape, as in FPN): a second conv of the same kernel size on
      each level (conv + BN), then the coarser level is upsampled bilinearly and added,
      step by step, back to the size of `x`;
    - the result, passed through `attention_activation`, multiplies pixel-wise a
      1x1 conv (+ BN + ReLU) of `x` (the "master" branch);
    - global pooling branch: mean over H, W -> 1x1 conv + BN + ReLU, broadcast and
      fused with the output (Tab. 1 "GP").

    Choices where the paper is ambiguous:
    - `attention_activation="sigmoid"`: the paper names no nonlinearity for the
      attention map. PAN presents FPA as the pixel-wise extension of SENet's channel
      attention (Tab. 1 compares against it), and SENet gates with a sigmoid; a gate in
      (0, 1) also keeps the product's scale bounded. "relu" or None are available.
    - `pyramid_filters=None` (= `filters`): the width of the pyramid is not given.
      The attention "features" multiply the master branch pixel-wise, and §1 argues a
      channel-wise vector alone is not enough, so the default attention is a full
      per-pixel, per-channel tensor of `filters` channels. `pyramid_filters=1` gives a
      single spatial attention map shared by all channels (much cheaper: the first
      7x7 conv reads all input channels). Other widths would need a projection the
      paper does not describe and are rejected.
    - `global_fusion="add"`: §3.1 says the global branch is "concatenated"; Fig. 3 and
      the public implementations add it. A broadcast vector concatenated and then read
      by the next linear layer is the same function class as adding a learned 1x1
      projection of it, and adding keeps the output width at `filters`, which the GAU
      decoder needs. "concat" (output width 2 * filters) is available.

    Args:
        filters: int. Output channels (master branch width). Defaults to 256.
        pyramid_filters: int or None. Width of the pyramid convs; None means `filters`;
            must be 1 or `filters`. Defaults to None.
        kernel_sizes: 3 ints. Kernels at pyramid levels 1/2, 1/4, 1/8. Defaults to
            (7, 5, 3) ("C357"); (3, 3, 3) is the paper's "C333".
        pooling: "average" or "max". Downsampling between pyramid levels. Defaults to
            "average" (Tab. 1 "AVE").
        global_pooling: bool. Include the global pooling branch. Defaults to True.
        global_fusion: "add" or "concat". Defaults to "add".
        attention_activation: "sigmoid", "relu" or None. Defaults to "sigmoid".

    Input shape: `(batch, h, w, channels)`, any h, w >= 1.
    Output shape: `(batch, h, w, filters)` (`2 * filters` with `global_fusion="concat"`).

    Example:
    >>> fpa = FeaturePyramidAttention(filters=256)
    >>> fpa(keras.ops.ones((2, 32, 32, 2048))).shape
    TensorShape([2, 32, 32, 256])

    Reference: Li et al., "Pyramid Attention Network for Semantic Segmentation",
    BMVC 2018, §3.1, Fig. 3, Tab. 1.
    """

    def __init__(
        self,
        filters=256,
        pyramid_filters=None,
        kernel_sizes=(7, 5, 3),
        pooling="average",
        global_pooling=True,
        global_fusion="add",
        attention_activation="sigmoid",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(filters) < 1:
            raise ValueError(f"Expected filters >= 1. Received: filters={filters}")
        pyramid = int(filters) if pyramid_filters is None else int(pyramid_filters)
        if pyramid not in (1, int(filters)):
            raise ValueError(
                f"Expected pyramid_filters of 1 or filters ({filters}). Received: pyramid_filters={pyramid_filters}"
            )
        kernel_sizes = tuple(int(k) for k in kernel_sizes)
        if len(kernel_sizes) != 3 or any(k < 1 for k in kernel_sizes):
            raise ValueError(f"Expected 3 kernel sizes >= 1. Received: kernel_sizes={kernel_sizes}")
        if pooling not in _POOLING:
            raise ValueError(f"Expected pooling in {_POOLING}. Received: pooling={pooling!r}")
        if global_fusion not in _GLOBAL_FUSION:
            raise ValueError(f"Expected global_fusion in {_GLOBAL_FUSION}. Received: global_fusion={global_fusion!r}")
        self.filters = int(filters)
        self.pyramid_filters = None if pyramid_filters is None else int(pyramid_filters)
        self.kernel_sizes = kernel_sizes
        self.pooling = pooling
        self.global_pooling = bool(global_pooling)
        self.global_fusion = global_fusion
        self.attention_activation = keras.activations.get(attention_activation)
        self._attention_activation_name = attention_activation

        pool_cls = keras.layers.AveragePooling2D if pooling == "average" else keras.layers.MaxPooling2D
        self.pools = [pool_cls(2, 2, padding="same", name=f"pool_{i}") for i in range(3)]
        self.down = [
            ConvBNActivation(pyramid, k, batch_norm=True, activation="relu", name=f"down_{k}x{k}_{i}")
            for i, k in enumerate(kernel_sizes)
        ]
        self.lateral = [
            ConvBNActivation(pyramid, k, batch_norm=True, name=f"lateral_{k}x{k}_{i}") for i, k in enumerate(kernel_sizes)
        ]
        self.master = ConvBNActivation(self.filters, 1, batch_norm=True, activation="relu", name="master")
        self.global_conv = (
            ConvBNActivation(self.filters, 1, batch_norm=True, activation="relu", name="global_conv")
            if self.global_pooling
            else None
        )

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        pyramid = self.filters if self.pyramid_filters is None else self.pyramid_filters
        shape = input_shape
        for down, lateral in zip(self.down, self.lateral):
            down.build(shape)
            shape = shape[:-1] + (pyramid,)
            lateral.build(shape)
        self.master.build(input_shape)
        if self.global_conv is not None:
            self.global_conv.build((input_shape[0], 1, 1, input_shape[-1]))

    def call(self, inputs, training=None):
        levels = []
        x = inputs
        for pool, down in zip(self.pools, self.down):
            x = down(pool(x), training=training)
            levels.append(x)
        merged = self.lateral[2](levels[2], training=training)
        for i in (1, 0):
            merged = self.lateral[i](levels[i], training=training) + _resize_to(merged, levels[i])
        attention = _resize_to(merged, inputs)
        if self.attention_activation is not None:
            attention = self.attention_activation(attention)
        out = self.master(inputs, training=training) * attention
        if self.global_conv is not None:
            context = self.global_conv(tf.reduce_mean(inputs, axis=[1, 2], keepdims=True), training=training)
            context = tf.broadcast_to(context, tf.shape(out))
            out = out + context if self.global_fusion == "add" else tf.concat([out, context], axis=-1)
        return out

    def compute_output_shape(self, input_shape):
        width = 2 * self.filters if (self.global_pooling and self.global_fusion == "concat") else self.filters
        return tuple(input_shape[:-1]) + (width,)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "pyramid_filters": self.pyramid_filters,
            "kernel_sizes": list(self.kernel_sizes),
            "pooling": self.pooling,
            "global_pooling": self.global_pooling,
            "global_fusion": self.global_fusion,
            "attention_activation": self._attention_activation_name,
        }


@keras.saving.register_keras_serializable(package="kseg")
class GlobalAttentionUpsample(keras.layers.Layer):
    """Global Attention Upsample (GAU): high-level context weights low-level detail.

    `out = upsample(high) + conv_kxk(low) * act(BN(conv_1x1(mean_hw(high))))`
    - low-level features: k x k conv (+ BN + ReLU) reducing them to `filters` channels
      (k = 3 is the best row of Tab. 3; 1 is the other row);
    - global context: global average pooling of the high-level features, 1x1 conv,
      BN and a nonlinearity; it multiplies the low-level features channel-wise;
    - the high-level features are upsampled bilinearly to the low-level size and added.

    `attention_activation="sigmoid"` by default, for the same reason as in
    `FeaturePyramidAttention`: the paper says "nonlinearity" without naming it, and a
    channel gate in (0, 1) is SENet's, which PAN builds on.

    Args:
        filters: int. Channels of the output; the high-level input must have this many
            channels (it is added to the weighted low-level features). Defaults to 256.
        low_kernel_size: int. Kernel of the low-level conv. Defaults to 3.
        global_pooling: bool. Use the global-context weighting (Tab. 3 "GP"); without it
            the low-level features are added unweighted. Defaults to True.
        attention_activation: "sigmoid", "relu" or None. Defaults to "sigmoid".

    Call arguments: `[high, low]`, high `(batch, h, w, filters)` and low
    `(batch, H, W, c_low)` with H >= h. Output: `(batch, H, W, filters)`.

    Example:
    >>> gau = GlobalAttentionUpsample(filters=256)
    >>> gau([keras.ops.ones((2, 16, 16, 256)), keras.ops.ones((2, 32, 32, 512))]).shape
    TensorShape([2, 32, 32, 256])

    Reference: Li et al., "Pyramid Attention Network for Semantic Segmentation",
    BMVC 2018, §3.2, Fig. 4, Tab. 3.
    """

    def __init__(
        self, filters=256, low_kernel_size=3, global_pooling=True, attention_activation="sigmoid", **kwargs
    ):
        super().__init__(**kwargs)
        if int(filters) < 1:
            raise ValueError(f"Expected filters >= 1. Received: filters={filters}")
        self.filters = int(filters)
        self.low_kernel_size = int(low_kernel_size)
        self.global_pooling = bool(global_pooling)
        self.attention_activation = keras.activations.get(attention_activation)
        self._attention_activation_name = attention_activation
        self.low_conv = ConvBNActivation(
            self.filters, self.low_kernel_size, batch_norm=True, activation="relu", name="low_conv"
        )
        self.context_conv = (
            ConvBNActivation(self.filters, 1, batch_norm=True, name="context_conv") if self.global_pooling else None
        )

    def build(self, input_shape):
        high_shape, low_shape = (tuple(s) for s in input_shape)
        if high_shape[-1] != self.filters:
            raise ValueError(
                f"GlobalAttentionUpsample expects high-level features with filters={self.filters} channels. "
                f"Received: high-level shape {high_shape}"
            )
        self.low_conv.build(low_shape)
        if self.context_conv is not None:
            self.context_conv.build((high_shape[0], 1, 1, high_shape[-1]))

    def call(self, inputs, training=None):
        high, low = inputs
        low = self.low_conv(low, training=training)
        if self.context_conv is not None:
            context = self.context_conv(tf.reduce_mean(high, axis=[1, 2], keepdims=True), training=training)
            if self.attention_activation is not None:
                context = self.attention_activation(context)
            low = low * context
        return _resize_to(high, low) + low

    def compute_output_shape(self, input_shape):
        high_shape, low_shape = input_shape
        return tuple(low_shape[:-1]) + (self.filters,)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "low_kernel_size": self.low_kernel_size,
            "global_pooling": self.global_pooling,
            "attention_activation": self._attention_activation_name,
        }
