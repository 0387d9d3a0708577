"""ResNet-50/101 v1 with output stride 8, 16 or 32 by dilation (DeepLab §3.1, PAN §3.3)."""

import keras

from kseg.backbones.common import check_input_shape, check_model_kwargs, check_output_stride, stage_strides_and_rates
from kseg.backbones.weights import load_backbone_weights
from kseg.constructor_config import ConstructorConfigModel
from kseg.layers.preprocessing import ImageNormalization

# Blocks per stage (conv2_x .. conv5_x) and bottleneck widths, He et al. 2016, Tab. 1.
RESNET_BLOCKS = {"resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3)}
STAGE_FILTERS = (64, 128, 256, 512)
BN_EPSILON = 1.001e-5  # keras.applications' value, so mapped weights give identical features


def _bottleneck(x, filters, stride, rate, name, shortcut_conv):
    """ResNet v1 bottleneck as in keras.applications (stride on the first 1x1 conv, Caffe style)."""
    if shortcut_conv:
        shortcut = keras.layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = keras.layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_1_bn")(x)
    x = keras.layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = keras.layers.Conv2D(filters, 3, padding="same", dilation_rate=rate, name=f"{name}_2_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_2_bn")(x)
    x = keras.layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = keras.layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_3_bn")(x)
    x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return keras.layers.Activation("relu", name=f"{name}_out")(x)


def _standard_stem(x, width):
    x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = keras.layers.Conv2D(width, 7, strides=2, name="conv1_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name="conv1_bn")(x)
    return keras.layers.Activation("relu", name="conv1_relu")(x)


def _deep_stem(x, width):
    """Three 3x3 convs (`width` stride 2, `width`, 2 `width`; 64-64-128 in PSPNet and PAN §3.3)
    replacing the 7x7 conv."""
    for i, (filters, stride) in enumerate(((width, 2), (width, 1), (2 * width, 1)), start=1):
        if stride == 2:
            x = keras.layers.ZeroPadding2D(1, name=f"stem_conv{i}_pad")(x)
        x = keras.layers.Conv2D(
            filters, 3, strides=stride, padding="valid" if stride == 2 else "same", use_bias=False,
            name=f"stem_conv{i}",
        )(x)
        x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"stem_bn{i}")(x)
        x = keras.layers.Activation("relu", name=f"stem_relu{i}")(x)
    return x


@keras.saving.register_keras_serializable(package="kseg")
class ResNetBackbone(ConstructorConfigModel):
    """ResNet v1 feature extractor whose output stride is set by atrous convolution.

    Layer names are those of `keras.applications.ResNet50/101` so their ImageNet weights
    map one to one. For output stride 16 the last stage (conv5_x) has stride 1 and its
    3x3 convs dilation 2 (PAN §3.3, "rate 2 in res5"); for output stride 8 conv4_x also
    has stride 1 with dilation 2 and conv5_x dilation 4 (DeepLab v2 §3.1). Every block of
    a dilated stage, the first included, uses the stage's rate, as in DeepLab's release.

    Outputs a dict of feature levels keyed by the stride they have in the undilated net:
    `P2` (conv2_x, 256 ch, stride 4), `P3` (conv3_x, 512, 8), `P4` (conv4_x, 1024, 16),
    `P5` (conv5_x, 2048, 32); with dilation the true strides of P4/P5 are
    `min(16, output_stride)` and `output_stride`.

    Args:
        depth: 50 or 101. Defaults to 101.
        output_stride: 8, 16 or 32. Defaults to 16.
        deep_stem: bool. Three 3x3 convs (64, 64, 128) instead of the 7x7 conv (PAN,
            PSPNet). ImageNet weights then leave the stem and the first block's input
            convs at their random initialisation (keras.applications has no deep-stem
            ResNet), with a warning. Defaults to False.
        weights: None, "imagenet", or a path (kseg `.weights.h5` or keras.applications
            `.h5`). Defaults to None.
        include_preprocessing: bool. Normalise RGB 0-255 input inside the model (the
            "caffe" preprocessing the ImageNet weights expect). Defaults to True.
        input_shape: tuple. Defaults to (None, None, 3).
        blocks: bottleneck blocks per stage (conv2_x..conv5_x), or None for `depth`'s
            (He et al. Tab. 1). Defaults to None.
        stage_filters: bottleneck widths per stage (the outputs are 4x), also the stem's
            width. Defaults to (64, 128, 256, 512). Smaller `blocks` and `stage_filters`
            make the tiny backbones the tests use; ImageNet weights need the defaults.

    Example:
    >>> backbone = ResNetBackbone(depth=101, output_stride=16)
    >>> {k: v.shape for k, v in backbone(keras.ops.zeros((1, 64, 64, 3))).items()}["P5"]
    TensorShape([1, 4, 4, 2048])
    """

    def __init__(
        self,
        depth=101,
        output_stride=16,
        deep_stem=False,
        weights=None,
        include_preprocessing=True,
        input_shape=(None, None, 3),
        blocks=None,
        stage_filters=STAGE_FILTERS,
        **kwargs,
    ):
        arch = f"resnet{depth}"
        if arch not in RESNET_BLOCKS:
            raise ValueError(f"Expected depth in (50, 101). Received: depth={depth}")
        blocks = RESNET_BLOCKS[arch] if blocks is None else tuple(int(b) for b in blocks)
        stage_filters = tuple(int(f) for f in stage_filters)
        if len(blocks) != 4 or len(stage_filters) != 4 or min(blocks + stage_filters) < 1:
            raise ValueError(
                f"Expected 4 positive blocks and stage_filters. Received: blocks={blocks}, stage_filters={stage_filters}"
            )
        output_stride = check_output_stride(output_stride)
        input_shape = check_input_shape(input_shape)
        kwargs.setdefault("name", arch)

        inputs = keras.Input(shape=input_shape, name="images")
        x = ImageNormalization(name="preprocessing")(inputs) if include_preprocessing else inputs
        x = _deep_stem(x, stage_filters[0]) if deep_stem else _standard_stem(x, stage_filters[0])
        x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
        x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)

        plan = [(1, 1)] + stage_strides_and_rates(3, 4, output_stride)
        features = {}
        for stage, (count, filters, (stride, rate)) in enumerate(zip(blocks, stage_filters, plan), start=2):
            for block in range(1, count + 1):
                x = _bottleneck(
                    x, filters, stride if block == 1 else 1, rate, f"conv{stage}_block{block}", block == 1
                )
            features[f"P{stage}"] = x
        super().__init__(inputs=inputs, outputs=features, **check_model_kwargs(type(self), kwargs))

        self.depth = int(depth)
        self.output_stride = output_stride
        self.deep_stem = bool(deep_stem)
        self.include_preprocessing = bool(include_preprocessing)
        self.blocks, self.stage_filters = blocks, stage_filters
        stem = [layer.name for layer in self.layers if layer.name.startswith("stem_")]
        load_backbone_weights(
            self,
            weights,
            lambda w: _application(arch, w),
            allowed_missing=stem + ["conv2_block1_0_conv", "conv2_block1_1_conv"] if deep_stem else (),
        )


def _application(arch, weights):
    cls = {"resnet50": keras.applications.ResNet50, "resnet101": keras.applications.ResNet101}[arch]
    return cls(include_top=False, weights=weights, input_shape=(None, None, 3))


def ResNet50(output_stride=16, deep_stem=False, weights=None, **kwargs):
    """ResNet-50 v1 backbone; see `ResNetBackbone`."""
    return ResNetBackbone(50, output_stride=output_stride, deep_stem=deep_stem, weights=weights, **kwargs)


def ResNet101(output_stride=16, deep_stem=False, weights=None, **kwargs):
    """ResNet-101 v1 backbone; see `ResNetBackbone`."""
    return ResNetBackbone(101, output_stride=output_stride, deep_stem=deep_stem, weights=weights, **kwargs)
