"""Atrous Spatial Pyramid Pooling: DeepLab v2 (§3.2) and DeepLab v3 forms."""

import keras
import tensorflow as tf

from kseg.layers.conv_block import ConvBNActivation
from kseg.layers.tracking import ContainerTracking

# DeepLab v2 §4.1.2, Tab. 3: ASPP-S and ASPP-L rates; LargeFOV is the single fc6 branch at r = 12.
ASPP_PRESETS = {"S": (2, 4, 8, 12), "L": (6, 12, 18, 24), "LargeFOV": (12,)}


def resolve_aspp_rates(rates):
    """Return a tuple of rates from a preset name ("S", "L", "LargeFOV") or a sequence of ints."""
    if isinstance(rates, str):
        if rates not in ASPP_PRESETS:
            raise ValueError(
                f"Unknown ASPP preset {rates!r}. Expected one of {sorted(ASPP_PRESETS)} or a tuple of rates."
            )
        return ASPP_PRESETS[rates]
    rates = tuple(int(r) for r in rates)
    if not rates or any(r < 1 for r in rates):
        raise ValueError(f"Expected a non-empty sequence of rates >= 1. Received: rates={rates}")
    return rates


@keras.saving.register_keras_serializable(package="kseg")
class ASPP(ContainerTracking, keras.layers.Layer):
    """DeepLab v2 ASPP: parallel atrous branches producing class logits that are summed.

    Two branch forms, both from the paper:
    - ResNet-101 form (`hidden_filters=None`): each branch is one 3x3 atrous conv from
      the features straight to `num_classes` logits (the released DeepLab v2 ResNet-101
      model, "fc1_c0..c3").
    - VGG-16 form (`hidden_filters=1024`): each branch is fc6 (3x3 atrous, 1024) ->
      ReLU -> dropout -> fc7 (1x1, 1024) -> ReLU -> dropout -> fc8 (1x1, classes),
      Fig. 7. DeepLab-LargeFOV is this form with the single rate 12.

    The classifier convs (the last conv of each branch) are initialised with
    N(0, 0.01), as in the DeepLab release.

    Args:
        num_classes: int. Logit channels of every branch. Defaults to 21 (PASCAL VOC).
        rates: preset name "S" (2, 4, 8, 12), "L" (6, 12, 18, 24) or "LargeFOV" (12,),
            or a tuple of ints. Defaults to "L".
        hidden_filters: int or None. fc6/fc7 width of the VGG form; None for the ResNet
            form. Defaults to None.
        dropout_rate: float. Dropout after fc6 and fc7 in the VGG form. Defaults to 0.5.

    Input shape: `(batch, h, w, channels)`. Output shape: `(batch, h, w, num_classes)`.

    Example:
    >>> aspp = ASPP(num_classes=21, rates="L")
    >>> aspp(keras.ops.ones((1, 41, 41, 2048))).shape
    TensorShape([1, 41, 41, 21])

    Reference: Chen et al., "DeepLab", TPAMI 2017, §3.2, §4.1.2, Fig. 4 and 7.
    """

    def __init__(self, num_classes=21, rates="L", hidden_filters=None, dropout_rate=0.5, **kwargs):
        super().__init__(**kwargs)
        if int(num_classes) < 2:
            raise ValueError(f"Expected num_classes >= 2. Received: num_classes={num_classes}")
        if hidden_filters is not None and int(hidden_filters) < 1:
            raise ValueError(f"Expected hidden_filters >= 1 or None. Received: hidden_filters={hidden_filters}")
        if not 0.0 <= float(dropout_rate) < 1.0:
            raise ValueError(f"Expected 0 <= dropout_rate < 1. Received: dropout_rate={dropout_rate}")
        self.num_classes = int(num_classes)
        self.rates = rates if isinstance(rates, str) else tuple(int(r) for r in rates)
        self.branch_rates = resolve_aspp_rates(rates)
        self.hidden_filters = None if hidden_filters is None else int(hidden_filters)
        self.dropout_rate = float(dropout_rate)
        classifier_init = keras.initializers.RandomNormal(stddev=0.01)
        self.branches = []
        for i, rate in enumerate(self.branch_rates):
            if self.hidden_filters is None:
                branch = [ConvBNActivation(self.num_classes, 3, rate, kernel_initializer=classifier_init, name=f"c{i}")]
            else:
                branch = [
                    ConvBNActivation(self.hidden_filters, 3, rate, activation="relu", name=f"fc6_{i}"),
                    keras.layers.Dropout(self.dropout_rate, name=f"drop6_{i}"),
                    ConvBNActivation(self.hidden_filters, 1, activation="relu", name=f"fc7_{i}"),
                    keras.layers.Dropout(self.dropout_rate, name=f"drop7_{i}"),
                    ConvBNActivation(self.num_classes, 1, kernel_initializer=classifier_init, name=f"fc8_{i}"),
                ]
            self.branches.append(branch)

    def build(self, input_shape):
        for branch in self.branches:
            shape = tuple(input_shape)
            for layer in branch:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)

    def call(self, inputs, training=None):
        outputs = []
        for branch in self.branches:
            x = inputs
            for layer in branch:
                x = layer(x, training=training)
            outputs.append(x)
        return tf.add_n(outputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.num_classes,)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "rates": self.rates if isinstance(self.rates, str) else list(self.rates),
            "hidden_filters": self.hidden_filters,
            "dropout_rate": self.dropout_rate,
        }


@keras.saving.register_keras_serializable(package="kseg")
class ASPPV3(ContainerTracking, keras.layers.Layer):
    """DeepLab v3 ASPP ("enhanced ASPP" of SS-GAN): 1x1 conv, three 3x3 atrous convs and
    image-level pooling, each with BN + ReLU, concatenated and projected by a 1x1 conv
    (BN + ReLU).

    Image pooling is a mean over the spatial axes followed by a broadcast back to the
    map's size, which exports to ONNX with dynamic H and W (no adaptive pooling).

    Args:
        filters: int. Channels of every branch and of the projection. Defaults to 256.
        rates: tuple of 3 ints. Rates of the atrous branches; (6, 12, 18) at output
            stride 16, doubled at output stride 8. Defaults to (6, 12, 18).
        image_pooling: bool. Include the image-level pooling branch. Defaults to True.
        dropout_rate: float. Dropout after the projection. Defaults to 0.1.

    Input shape: `(batch, h, w, channels)`. Output shape: `(batch, h, w, filters)`.

    Reference: Chen et al., "Rethinking Atrous Convolution for Semantic Image
    Segmentation", 2017, §3.3.
    """

    def __init__(self, filters=256, rates=(6, 12, 18), image_pooling=True, dropout_rate=0.1, **kwargs):
        super().__init__(**kwargs)
        if int(filters) < 1:
            raise ValueError(f"Expected filters >= 1. Received: filters={filters}")
        self.filters = int(filters)
        self.rates = resolve_aspp_rates(tuple(rates))
        self.image_pooling = bool(image_pooling)
        self.dropout_rate = float(dropout_rate)
        self.conv_1x1 = ConvBNActivation(self.filters, 1, batch_norm=True, activation="relu", name="conv_1x1")
        self.atrous = [
            ConvBNActivation(self.filters, 3, r, batch_norm=True, activation="relu", name=f"atrous_{i}")
            for i, r in enumerate(self.rates)
        ]
        self.pool_conv = (
            ConvBNActivation(self.filters, 1, batch_norm=True, activation="relu", name="pool_conv")
            if self.image_pooling
            else None
        )
        self.project = ConvBNActivation(self.filters, 1, batch_norm=True, activation="relu", name="project")
        self.dropout = keras.layers.Dropout(self.dropout_rate, name="dropout")

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        self.conv_1x1.build(input_shape)
        for layer in self.atrous:
            layer.build(input_shape)
        branches = 1 + len(self.atrous)
        if self.pool_conv is not None:
            self.pool_conv.build((input_shape[0], 1, 1, input_shape[-1]))
            branches += 1
        self.project.build(input_shape[:-1] + (branches * self.filters,))

    def call(self, inputs, training=None):
        outputs = [self.conv_1x1(inputs, training=training)]
        outputs += [layer(inputs, training=training) for layer in self.atrous]
        if self.pool_conv is not None:
            pooled = tf.reduce_mean(inputs, axis=[1, 2], keepdims=True)
            pooled = self.pool_conv(pooled, training=training)
            outputs.append(tf.broadcast_to(pooled, tf.shape(outputs[0])))
        x = self.project(tf.concat(outputs, axis=-1), training=training)
        return self.dropout(x, training=training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "rates": list(self.rates),
            "image_pooling": self.image_pooling,
            "dropout_rate": self.dropout_rate,
        }
