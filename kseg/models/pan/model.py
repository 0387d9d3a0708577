"""Pyramid Attention Network (Li et al., BMVC 2018)."""

import keras

from kseg.backbones import resolve_backbone
from kseg.layers.pan import FeaturePyramidAttention, GlobalAttentionUpsample
from kseg.layers.resize import ResizeLike
from kseg.models.common import (
    SegmentationModel, check_activation, check_input_shape, check_model_kwargs, check_num_classes, output_head,
)
from kseg.models.registry import register_architecture


@register_architecture("pan")
@keras.saving.register_keras_serializable(package="kseg")
class PAN(SegmentationModel):
    """PAN: dilated ResNet, Feature Pyramid Attention, then Global Attention Upsample steps.

    Fig. 2: ResNet-101 with the three-3x3 stem and dilated res5 (output stride 16, §3.3)
    -> FPA on res5 -> GAU with res4 -> GAU with res3 -> GAU with res2 -> 1x1 conv to
    class logits at 1/4 of the image -> bilinear upsampling to the input size.

    The decoder width (`decoder_filters`, the channels of the FPA output and of every
    GAU) is not given in the paper; 256 is the width of DeepLab v3's ASPP and FPN, the
    designs PAN compares with. See `FeaturePyramidAttention` and
    `GlobalAttentionUpsample` for the other choices the paper leaves open.

    Args:
        num_classes: int >= 2.
        backbone: "resnet101" or "resnet50", or a backbone model returning `P2`..`P5`
            (see `kseg.backbones`). Defaults to "resnet101".
        output_stride: 8, 16 or 32 for a named backbone. Defaults to 16 (the paper's).
        deep_stem: bool. Three 3x3 convs instead of the 7x7 (§3.3), for a named
            backbone. Defaults to True.
        decoder_filters: int. Defaults to 256.
        pyramid_filters: int or None. FPA pyramid width: None (= decoder_filters,
            per-channel attention) or 1 (one spatial map; about 34M fewer parameters, most
            of them in the 7x7 conv reading res5's 2048 channels). Defaults to None.
        attention_activation: gate of FPA and GAU. Defaults to "sigmoid".
        backbone_weights: None, "imagenet" or a path. Defaults to None.
        backbone_options: dict or None. Further constructor arguments of a named backbone
            (e.g. `blocks`, `stage_filters` for a smaller ResNet). Defaults to None.
        activation: None (logits) or "softmax". Defaults to None.
        input_shape: tuple (H, W, 3). Defaults to (None, None, 3).

    Input: RGB images `(batch, H, W, 3)` with values in [0, 255].
    Output: `(batch, H, W, num_classes)` float32 logits (or probabilities).

    Example:
    >>> model = PAN(num_classes=21)
    >>> model(keras.ops.zeros((1, 512, 512, 3))).shape
    TensorShape([1, 512, 512, 21])
    """

    BACKBONES = ("resnet50", "resnet101")  # the names `backbone=` takes (or a backbone model)

    def __init__(
        self,
        num_classes,
        backbone="resnet101",
        output_stride=16,
        deep_stem=True,
        decoder_filters=256,
        pyramid_filters=None,
        attention_activation="sigmoid",
        backbone_weights=None,
        backbone_options=None,
        activation=None,
        input_shape=(None, None, 3),
        **kwargs,
    ):
        check_model_kwargs(type(self), kwargs)  # before anything is built
        check_num_classes(num_classes)
        check_activation(activation)
        keras.activations.get(attention_activation)  # a misspelt gate is refused before the backbone is built
        input_shape = check_input_shape(input_shape)
        net, backbone_name = resolve_backbone(
            backbone, self.BACKBONES, ("P2", "P3", "P4", "P5"),
            output_stride=output_stride, deep_stem=deep_stem, weights=backbone_weights, **(backbone_options or {}),
        )
        kwargs.setdefault("name", f"pan_{backbone_name}")

        inputs = keras.Input(shape=input_shape, name="images")
        features = net(inputs)
        x = FeaturePyramidAttention(
            decoder_filters, pyramid_filters, attention_activation=attention_activation, name="fpa"
        )(
            features["P5"]
        )
        for level in ("P4", "P3", "P2"):
            x = GlobalAttentionUpsample(
                decoder_filters, attention_activation=attention_activation, name=f"gau_{level}"
            )([x, features[level]])
        logits = keras.layers.Conv2D(
            num_classes, 1, kernel_initializer=keras.initializers.RandomNormal(stddev=0.01), name="classifier"
        )(x)
        logits = ResizeLike(name="upsample")([logits, inputs])
        super().__init__(inputs=inputs, outputs=output_head(logits, activation), **kwargs)

        self.num_classes = num_classes
        self.backbone_name = backbone_name
        self.output_stride = int(getattr(net, "output_stride", output_stride))
        self.decoder_filters = int(decoder_filters)
        self.backbone = net
