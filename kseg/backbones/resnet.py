"""ResNet-50/101 v1 with output stride 8, 16 or 32 by dilation (DeepLab §3.1, PAN §3.3)."""

import keras

from kseg.backbones import timm_checkpoint
from kseg.backbones.common import check_input_shape, check_model_kwargs, check_output_stride, stage_strides_and_rates
from kseg.backbones.weights import load_backbone_weights
from kseg.constructor_config import ConstructorConfigModel
from kseg.layers.batch_norm import FusedBatchNormalization
from kseg.layers.preprocessing import PREPROCESSING, ImageNormalization

# Blocks per stage (conv2_x .. conv5_x) and bottleneck widths, He et al. 2016, Tab. 1.
RESNET_BLOCKS = {"resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3)}
STAGE_FILTERS = (64, 128, 256, 512)
BN_EPSILON = 1.001e-5  # keras.applications' value, so mapped weights give identical features


def _bottleneck(x, filters, stride, rate, name, shortcut_conv, stride_in_3x3=False, avg_down=False):
    """ResNet v1 bottleneck. The stride sits on the first 1x1 conv (keras.applications,
    Caffe) or on the 3x3 (`stride_in_3x3`, "v1.5", timm and torchvision); the projection
    shortcut is a strided 1x1 conv, or with `avg_down` a 2x2 average pool then a 1x1 conv
    (ResNet-D). A strided 3x3 pads one pixel on every side, as PyTorch does."""
    if shortcut_conv:
        shortcut = x
        if avg_down and stride > 1:
            shortcut = keras.layers.AveragePooling2D(stride, strides=stride, padding="same", name=f"{name}_0_pool")(x)
        shortcut = keras.layers.Conv2D(4 * filters, 1, strides=1 if avg_down else stride, name=f"{name}_0_conv")(shortcut)
        shortcut = FusedBatchNormalization(epsilon=BN_EPSILON, name=f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = keras.layers.Conv2D(filters, 1, strides=1 if stride_in_3x3 else stride, name=f"{name}_1_conv")(x)
    x = FusedBatchNormalization(epsilon=BN_EPSILON, name=f"{name}_1_bn")(x)
    x = keras.layers.Activation("relu", name=f"{name}_1_relu")(x)
    if stride_in_3x3 and stride > 1:
        x = keras.layers.ZeroPadding2D(1, name=f"{name}_2_pad")(x)
        x = keras.layers.Conv2D(filters, 3, strides=stride, name=f"{name}_2_conv")(x)
    else:
        x = keras.layers.Conv2D(filters, 3, padding="same", dilation_rate=rate, name=f"{name}_2_conv")(x)
    x = FusedBatchNormalization(epsilon=BN_EPSILON, name=f"{name}_2_bn")(x)
    x = keras.layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = keras.layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = FusedBatchNormalization(epsilon=BN_EPSILON, name=f"{name}_3_bn")(x)
    x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return keras.layers.Activation("relu", name=f"{name}_out")(x)


def _standard_stem(x, width):
    x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = keras.layers.Conv2D(width, 7, strides=2, name="conv1_conv")(x)
    x = FusedBatchNormalization(epsilon=BN_EPSILON, name="conv1_bn")(x)
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
        x = FusedBatchNormalization(epsilon=BN_EPSILON, name=f"stem_bn{i}")(x)
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
        deep_stem: bool or None. Three 3x3 convs (`stem_width`, `stem_width`, 2
            `stem_width`) instead of the 7x7 conv (PAN, PSPNet). Keras' ImageNet weights
            then leave the stem and the first block's input convs at their random
            initialisation (keras.applications has no deep-stem ResNet), with a warning.
            None: the timm checkpoint's stem, else False. Defaults to None.
        weights: None, "imagenet", a kseg `.weights.h5` or keras.applications `.h5` path,
            or a timm `.safetensors` checkpoint (see `from_timm`). Defaults to None.
        include_preprocessing: bool. Normalise RGB 0-255 input inside the model as the
            weights expect (`preprocessing`). Defaults to True.
        input_shape: tuple. Defaults to (None, None, 3).
        blocks: bottleneck blocks per stage (conv2_x..conv5_x), or None for `depth`'s
            (He et al. Tab. 1). Defaults to None.
        stage_filters: bottleneck widths per stage (the outputs are 4x). Defaults to
            (64, 128, 256, 512). Smaller `blocks` and `stage_filters` make the tiny
            backbones the tests use; pretrained weights need the defaults.
        stem_width: int or None. Width of the 7x7 stem, or of the deep stem's first two
            convs (64 in timm's `s` variants, 32 in the `d` ones). None: the checkpoint's,
            else `stage_filters[0]`. Defaults to None.
        stride_in_3x3: bool or None. Downsample on the bottleneck's 3x3 conv ("v1.5",
            timm) instead of its first 1x1 (keras.applications). None: True for a timm
            checkpoint, else False. Defaults to None.
        avg_down: bool or None. Projection shortcuts average-pool 2x2 before their 1x1
            conv (ResNet-D) instead of striding it. None: the checkpoint's, else False.
            Defaults to None.
        preprocessing: "caffe" (BGR, mean subtracted: keras.applications), "torch" (RGB,
            mean and std: timm) or None (the weights' own: "torch" for a timm
            checkpoint, else "caffe"). Defaults to None.

    With a timm checkpoint every structural argument left at None is read from it; one
    given explicitly must agree with it (a `ValueError` names the argument otherwise).

    Example:
    >>> backbone = ResNetBackbone(depth=101, output_stride=16)
    >>> {k: v.shape for k, v in backbone(keras.ops.zeros((1, 64, 64, 3))).items()}["P5"]
    TensorShape([1, 4, 4, 2048])
    """

    def __init__(
        self,
        depth=101,
        output_stride=16,
        deep_stem=None,
        weights=None,
        include_preprocessing=True,
        input_shape=(None, None, 3),
        blocks=None,
        stage_filters=STAGE_FILTERS,
        stem_width=None,
        stride_in_3x3=None,
        avg_down=None,
        preprocessing=None,
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
        structure = dict(
            blocks=blocks, stage_filters=stage_filters, deep_stem=deep_stem, stem_width=stem_width,
            stride_in_3x3=stride_in_3x3, avg_down=avg_down, preprocessing=preprocessing,
        )
        timm = None
        if timm_checkpoint.is_timm_checkpoint(weights):
            tensors = timm_checkpoint.read_timm_checkpoint(weights)
            timm = (tensors, _agree_with_checkpoint(structure, timm_checkpoint.timm_resnet_structure(tensors, weights), weights))
            structure = timm[1]
        structure = _fill_defaults(structure)
        if structure["preprocessing"] not in PREPROCESSING:
            raise ValueError(f"Expected preprocessing in {sorted(PREPROCESSING)}. Received: preprocessing={preprocessing!r}")
        check_model_kwargs(type(self), kwargs)  # before anything is built
        output_stride = check_output_stride(output_stride)
        input_shape = check_input_shape(input_shape)
        kwargs.setdefault("name", arch)

        inputs = keras.Input(shape=input_shape, name="images")
        features = _resnet_features(inputs, output_stride, include_preprocessing, **structure)
        super().__init__(inputs=inputs, outputs=features, **kwargs)

        self._constructor_arguments.update(structure)  # a rebuilt backbone is this network, whatever set it
        self.depth = int(depth)
        self.output_stride = output_stride
        self.include_preprocessing = bool(include_preprocessing)
        for key, value in structure.items():
            setattr(self, key, value)
        self.checkpoint_structure = dict(structure) if timm else None  # see ConstructorConfigModel
        if timm:
            timm_checkpoint.load_timm_resnet_weights(self, timm[0], timm[1], weights)
            return
        stem = [layer.name for layer in self.layers if layer.name.startswith("stem_")]
        load_backbone_weights(
            self,
            weights,
            lambda w: _application(arch, w),
            allowed_missing=stem + ["conv2_block1_0_conv", "conv2_block1_1_conv"] if self.deep_stem else (),
        )

    def structure(self):
        """The structural arguments this network was built with (a rebuilt model passes them
        to get the same network without the checkpoint that chose them)."""
        return {key: self._constructor_arguments[key] for key in STRUCTURE}


# The constructor arguments that decide the network's structure, with their defaults (the
# keras.applications layout) where neither the caller nor a checkpoint sets them.
STRUCTURE = ("blocks", "stage_filters", "deep_stem", "stem_width", "stride_in_3x3", "avg_down", "preprocessing")


def _fill_defaults(structure):
    defaults = dict(deep_stem=False, stem_width=structure["stage_filters"][0], stride_in_3x3=False, avg_down=False, preprocessing="caffe")
    return {key: defaults[key] if value is None else value for key, value in structure.items()}


def _agree_with_checkpoint(requested, found, path):
    """The checkpoint's structure, after checking that every argument given explicitly (not
    None) has the checkpoint's value."""
    for key, value in requested.items():
        if value is not None and _plain(value) != _plain(found[key]):
            raise ValueError(f"{key}={value!r} does not fit the timm checkpoint {path}, which has {key}={found[key]!r}")
    return found


def _plain(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _resnet_features(inputs, output_stride, include_preprocessing, blocks, stage_filters, deep_stem, stem_width,
                     stride_in_3x3, avg_down, preprocessing):
    """The ResNet graph on `inputs`: {"P2": conv2_x, ..., "P5": conv5_x}."""
    x = ImageNormalization(**PREPROCESSING[preprocessing], name="preprocessing")(inputs) if include_preprocessing else inputs
    x = _deep_stem(x, stem_width) if deep_stem else _standard_stem(x, stem_width)
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    plan = [(1, 1)] + stage_strides_and_rates(3, 4, output_stride)
    features = {}
    for stage, (count, filters, (stride, rate)) in enumerate(zip(blocks, stage_filters, plan), start=2):
        for block in range(1, count + 1):
            x = _bottleneck(
                x, filters, stride if block == 1 else 1, rate, f"conv{stage}_block{block}", block == 1,
                stride_in_3x3=stride_in_3x3, avg_down=avg_down,
            )
        features[f"P{stage}"] = x
    return features


def _application(arch, weights):
    cls = {"resnet50": keras.applications.ResNet50, "resnet101": keras.applications.ResNet101}[arch]
    return cls(include_top=False, weights=weights, input_shape=(None, None, 3))


def ResNet50(output_stride=16, deep_stem=None, weights=None, **kwargs):
    """ResNet-50 v1 backbone; see `ResNetBackbone`."""
    return ResNetBackbone(50, output_stride=output_stride, deep_stem=deep_stem, weights=weights, **kwargs)


def ResNet101(output_stride=16, deep_stem=None, weights=None, **kwargs):
    """ResNet-101 v1 backbone; see `ResNetBackbone`."""
    return ResNetBackbone(101, output_stride=output_stride, deep_stem=deep_stem, weights=weights, **kwargs)


def from_timm(path, output_stride=16, **kwargs):
    """The kseg ResNet of a timm checkpoint, with its weights (no torch needed).

    Reads the `.safetensors` file timm saves (e.g. `resnet101s.safetensors`) and builds the
    matching network: depth and blocks, widths, the stem (7x7, or deep 64-64-128 / 32-32-64),
    the shortcut (strided 1x1 or avg-down), the stride on the 3x3 conv and timm's input
    normalisation, all read from the tensors (see `kseg.backbones.timm_checkpoint`). Dilated
    stages use the stage's rate in every block (DeepLab's convention; timm keeps the
    previous rate in a stage's first block) and their avg-down shortcut has no pool.

    Args:
        path: the `.safetensors` file.
        output_stride: 8, 16 or 32. Defaults to 16.
        **kwargs: further `ResNetBackbone` arguments (`include_preprocessing`, `name`, ...).

    Returns:
        A `ResNetBackbone` returning P2..P5.
    """
    if not timm_checkpoint.is_timm_checkpoint(path):
        raise ValueError(f"Expected a timm .safetensors checkpoint. Received: path={path!r}")
    found = timm_checkpoint.timm_resnet_structure(timm_checkpoint.read_timm_checkpoint(path), path)
    depth = next((int(arch[6:]) for arch, blocks in RESNET_BLOCKS.items() if blocks == found["blocks"]), 50)
    kwargs.setdefault("name", f"resnet{depth}" if found["blocks"] in RESNET_BLOCKS.values() else "resnet")
    return ResNetBackbone(
        depth, output_stride=output_stride, weights=path, blocks=found["blocks"], stage_filters=found["stage_filters"], **kwargs
    )
