"""Wide ResNet-38 ("model A" of Wu, Shen & van den Hengel, "Wider or Deeper: Revisiting the
ResNet Model for Visual Recognition", 2016) with RelationNet's changes (§II-A1)."""

import os

import keras

from kseg.backbones.common import check_input_shape, check_model_kwargs
from kseg.constructor_config import ConstructorConfigModel
from kseg.layers.batch_norm import FusedBatchNormalization
from kseg.layers.deformable import DeformableConv2D
from kseg.layers.preprocessing import IMAGENET_TORCH_MEAN_RGB, IMAGENET_TORCH_STD_RGB, ImageNormalization


# Model A, Wu et al. Fig. 3 / Tab. 1: units per block and the widths of each unit's convs.
# B2-B5: two 3x3 convs; B6, B7: bottleneck 1x1 - 3x3 - 1x1. 1 + 2 (3+3+6+3) + 3 (1+1) = 37
# convolutions + the classifier = 38 layers.
WIDE_RESNET38_BLOCKS = (
    (3, (128, 128)),
    (3, (256, 256)),
    (6, (512, 512)),
    (3, (512, 1024)),
    (1, (512, 1024, 2048)),
    (1, (1024, 2048, 4096)),
)


def _bn_relu(x, name):
    x = FusedBatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def _unit(x, widths, stride, rates, deformable, name, dropout_rate=0.0):
    """Pre-activation residual unit: BN-ReLU, then the convs (BN-ReLU between them); the
    shortcut is a 1x1 conv of the pre-activated input when the shape changes."""
    pre = _bn_relu(x, f"{name}_pre")
    in_channels = x.shape[-1]
    if stride != 1 or in_channels != widths[-1]:
        shortcut = keras.layers.Conv2D(widths[-1], 1, strides=stride, use_bias=False, name=f"{name}_shortcut")(pre)
    else:
        shortcut = x
    y = pre
    if len(widths) == 2:  # basic unit: 3x3 (stride) - 3x3 (dilation)
        y = keras.layers.Conv2D(widths[0], 3, strides=stride, padding="same", dilation_rate=rates[0], use_bias=False,
                                name=f"{name}_conv1")(y)
        y = _bn_relu(y, f"{name}_mid")
        y = _conv3x3(y, widths[1], rates[1], deformable, f"{name}_conv2")
    else:  # bottleneck: 1x1 - 3x3 (dilation / deformable) - 1x1
        y = keras.layers.Conv2D(widths[0], 1, use_bias=False, name=f"{name}_conv1")(y)
        y = _bn_relu(y, f"{name}_mid1")
        y = _conv3x3(y, widths[1], rates[1], deformable, f"{name}_conv2")
        y = _bn_relu(y, f"{name}_mid2")
        if dropout_rate:
            y = keras.layers.Dropout(dropout_rate, name=f"{name}_dropout")(y)
        y = keras.layers.Conv2D(widths[2], 1, use_bias=False, name=f"{name}_conv3")(y)
    return keras.layers.Add(name=f"{name}_add")([shortcut, y])


def _conv3x3(x, filters, rate, deformable, name):
    if deformable:
        return DeformableConv2D(filters, 3, dilation_rate=rate, use_bias=False, name=name)(x)
    return keras.layers.Conv2D(filters, 3, padding="same", dilation_rate=rate, use_bias=False, name=name)(x)


@keras.saving.register_keras_serializable(package="kseg")
class WideResNet38Backbone(ConstructorConfigModel):
    """Wide ResNet-38 (model A) as RelationNet uses it (§II-A1), output stride 8.

    Layout (Wu et al. 2016, model A; pre-activation units, no max pooling):
    - block 1: 3x3 conv, 64 channels, stride 1.
    - blocks 2-4: 3, 3 and 6 units of two 3x3 convs, widths (128, 128), (256, 256),
      (512, 512). RelationNet replaces the pooling before blocks 2-4 by stride-2
      convolutions: the first conv of each block's first unit (and its 1x1 shortcut) has
      stride 2, so block 4 is at 1/8.
    - block 5: 3 units of 3x3 convs (512, 1024); the second conv has dilation 2
      (RelationNet; model A's segmentation variant).
    - blocks 6, 7: one bottleneck unit each, 1x1 - 3x3 - 1x1, widths (512, 1024, 2048)
      and (1024, 2048, 4096). RelationNet makes the 3x3 conv deformable
      (`kseg.layers.DeformableConv2D`); its regular grid keeps model A's dilation 4 there.
    - a final BN + ReLU (pre-activation networks end with one).
    The widths are model A's as recalled from Wu et al. (Fig. 3; the paper is not among
    the texts available here); RelationNet does not restate them. With them the backbone
    has 105.4M parameters (BN included, no classifier). That count has not been checked
    against the published one: compare the widths with the original before loading
    converted weights (`blocks` takes other widths).

    Outputs a dict keyed by block: `block1` (stride 1, 64 ch), `block2` (1/2, 128),
    `block3` (1/4, 256), `block4` (1/8, 512), `block5` (1/8, 1024), `block6` (1/8, 2048),
    `block7` (1/8, 4096, after the final BN-ReLU).

    No pretrained weights ship with Keras for this network (the authors' are MXNet
    files); `weights` takes a path to weights saved from this class.

    Args:
        deformable: bool. Deformable 3x3 convs in blocks 6 and 7 (RelationNet). Defaults to True.
        blocks: tuple of (units, widths) for blocks 2-7. Defaults to model A's.
        stem_filters: int. Block 1 width. Defaults to 64.
        dropout_rates: (block 6, block 7) dropout before the last 1x1 conv. Defaults to (0.0, 0.0).
        weights: None or a path to a `.weights.h5` file. Defaults to None.
        include_preprocessing: bool. Normalise RGB 0-255 with ImageNet mean/std. Defaults to True.
        input_shape: tuple. Defaults to (None, None, 3).

    Example:
    >>> backbone = WideResNet38Backbone()
    >>> backbone(keras.ops.zeros((1, 64, 64, 3)))["block7"].shape
    TensorShape([1, 8, 8, 4096])
    """

    def __init__(
        self,
        deformable=True,
        blocks=WIDE_RESNET38_BLOCKS,
        stem_filters=64,
        dropout_rates=(0.0, 0.0),
        weights=None,
        include_preprocessing=True,
        input_shape=(None, None, 3),
        **kwargs,
    ):
        check_model_kwargs(type(self), kwargs)  # before anything is built
        input_shape = check_input_shape(input_shape)
        blocks = tuple((int(units), tuple(int(w) for w in widths)) for units, widths in blocks)
        if len(blocks) != 6 or any(len(w) != 2 for _, w in blocks[:4]) or any(len(w) != 3 for _, w in blocks[4:]):
            raise ValueError(
                "Expected blocks = 4 x (units, (w1, w2)) for blocks 2-5 and 2 x (units, (w1, w2, w3)) for blocks 6-7. "
                f"Received: blocks={blocks}"
            )
        kwargs.setdefault("name", "wide_resnet38")
        inputs = keras.Input(shape=input_shape, name="images")
        x = ImageNormalization(IMAGENET_TORCH_MEAN_RGB, IMAGENET_TORCH_STD_RGB, to_bgr=False, name="preprocessing")(inputs) if include_preprocessing else inputs
        x = keras.layers.Conv2D(stem_filters, 3, padding="same", use_bias=False, name="block1_conv")(x)
        features = {"block1": x}
        for index, (units, widths) in enumerate(blocks, start=2):
            bottleneck = index >= 6
            rates = (1, {5: 2, 6: 4, 7: 4}.get(index, 1))
            for unit in range(units):
                stride = 2 if index <= 4 and unit == 0 else 1
                x = _unit(
                    x,
                    widths,
                    stride,
                    rates,
                    deformable=deformable and bottleneck,
                    name=f"block{index}_unit{unit + 1}",
                    dropout_rate=dropout_rates[index - 6] if bottleneck else 0.0,
                )
            features[f"block{index}"] = x
        features["block7"] = _bn_relu(x, "final")
        super().__init__(inputs=inputs, outputs=features, **kwargs)

        self.deformable = bool(deformable)
        self.output_stride = 8
        self.blocks = blocks
        self.stem_filters = int(stem_filters)
        self.dropout_rates = tuple(float(r) for r in dropout_rates)
        self.include_preprocessing = bool(include_preprocessing)
        if weights is not None:
            if not os.fspath(weights).endswith(".weights.h5"):
                raise ValueError(f"Expected weights=None or a .weights.h5 file saved from WideResNet38Backbone. Received: weights={weights!r}")
            self.load_weights(weights)
