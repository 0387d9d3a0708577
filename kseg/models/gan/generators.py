"""SS-GAN's generators VGG16-G and ResNet50-G (Liu, Table 1)."""

import keras

from kseg.backbones import resolve_backbone
from kseg.layers.aspp import ASPPV3
from kseg.layers.conv_block import ConvBNActivation
from kseg.layers.resize import ResizeLike
from kseg.models.common import (
    SegmentationModel, check_activation, check_input_shape, check_model_kwargs, check_num_classes, output_head,
)


@keras.saving.register_keras_serializable(package="kseg")
class SSGANGenerator(SegmentationModel):
    """The generator ("generated model") of SS-GAN, Table 1, rows 0-7:

    - ResNet50-G: ResNet-50 whose stages 3 and 4 (conv4_x, conv5_x) are "hole"
      (atrous) convolutions, i.e. output stride 8 with rates 2 and 4; row 5 "enhanced
      ASPP", read as the DeepLab v3 ASPP (1x1 + three 3x3 atrous + image pooling, BN,
      concatenated, projected to 256; rates (12, 24, 36) at output stride 8, (6, 12, 18)
      at 16); row 6 a 1x1-256 conv (BN + ReLU); row 7 a 1x1-classes conv.
    - VGG16-G: the five VGG-16 conv/pooling stages (every stage pools: output stride
      32), row 5 a 7x7-4096 conv (ImageNet fc1 as a convolution), row 6 a 1x1-4096
      conv, each with ReLU and dropout 0.5 (FCN-style), row 7 a 1x1-classes conv. Table 1
      shows no hole convolutions or ASPP for VGG16-G; `output_stride=8` gives a dilated
      variant.

    The class scores are upsampled bilinearly to the input size.

    Args:
        num_classes: int >= 2.
        backbone: "resnet50" or "vgg16", or a backbone model returning `P5` (see
            `kseg.backbones`; it gets ResNet50-G's head). Defaults to "resnet50".
        output_stride: 8, 16 or 32 for a named backbone. Defaults to 8 for ResNet50-G and
            32 for VGG16-G.
        aspp_rates: tuple of 3 ints or None (from the output stride). Defaults to None.
        head_filters: int. Width of ASPP and of row 6 (ResNet50-G). Defaults to 256.
        backbone_weights: None, "imagenet" or a path. Defaults to None.
        backbone_options: dict or None. Further constructor arguments of a named backbone
            (e.g. `blocks`, `stage_filters` for a smaller ResNet). Defaults to None.
        activation: None (logits) or "softmax". Defaults to None.
        input_shape: tuple (H, W, 3). Defaults to (None, None, 3).

    Input: RGB `(batch, H, W, 3)` in [0, 255]. Output: `(batch, H, W, num_classes)` float32.

    Example:
    >>> g = SSGANGenerator(num_classes=21, backbone="resnet50")
    >>> g(keras.ops.zeros((1, 64, 64, 3))).shape
    TensorShape([1, 64, 64, 21])
    """

    BACKBONES = ("resnet50", "vgg16")  # the names `backbone=` takes (or a backbone model)

    def __init__(
        self,
        num_classes,
        backbone="resnet50",
        output_stride=None,
        aspp_rates=None,
        head_filters=256,
        backbone_weights=None,
        backbone_options=None,
        activation=None,
        input_shape=(None, None, 3),
        **kwargs,
    ):
        check_model_kwargs(type(self), kwargs)  # before anything is built
        check_num_classes(num_classes)
        check_activation(activation)
        input_shape = check_input_shape(input_shape)
        vgg = backbone == "vgg16"
        if output_stride is None:
            output_stride = 32 if vgg else 8
        if vgg:
            fc = dict(  # Table 1 rows 5-6: ImageNet fc1/fc2 as 7x7-4096 and 1x1-4096 convs
                fc_filters=4096,
                fc_kernel_size=7,
                fc_rate=1 if int(output_stride) == 32 else 32 // int(output_stride),
                pool_size=2 if int(output_stride) == 32 else 3,
            )
            net, backbone_name = resolve_backbone(
                backbone, self.BACKBONES, ("fc7",), output_stride=output_stride, weights=backbone_weights,
                **{**fc, **(backbone_options or {})},
            )
        else:
            net, backbone_name = resolve_backbone(
                backbone, self.BACKBONES, ("P5",), output_stride=output_stride, weights=backbone_weights,
                **(backbone_options or {}),
            )
        output_stride = int(getattr(net, "output_stride", output_stride))
        kwargs.setdefault("name", f"ssgan_generator_{backbone_name}")
        inputs = keras.Input(shape=input_shape, name="images")
        if vgg:
            x = net(inputs)["fc7"]
        else:
            if aspp_rates is None:
                aspp_rates = {8: (12, 24, 36), 16: (6, 12, 18), 32: (3, 6, 9)}[output_stride]
            x = ASPPV3(head_filters, rates=tuple(aspp_rates), name="enhanced_aspp")(net(inputs)["P5"])
            x = ConvBNActivation(head_filters, 1, batch_norm=True, activation="relu", name="conv6")(x)
        logits = keras.layers.Conv2D(num_classes, 1, name="classifier")(x)
        outputs = output_head(ResizeLike(name="upsample")([logits, inputs]), activation)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        self.num_classes = num_classes
        self.backbone_name = backbone_name
        self.output_stride = output_stride
        self.backbone = net
