"""DeepLab v2: ResNet-101 or VGG-16 with atrous convolution, ASPP and multi-scale max fusion."""

import keras

from kseg.backbones import VGG16Backbone, resolve_backbone, transfer_weights_by_name
from kseg.constants import LOSS_RESOLUTIONS
from kseg.layers.aspp import ASPP, resolve_aspp_rates
from kseg.layers.resize import ResizeByScale, ResizeLike
from kseg.models.common import (
    SegmentationModel, check_activation, check_input_shape, check_model_kwargs, check_num_classes, output_head, rebuilt_with,
)
from kseg.models.registry import register_architecture


@register_architecture("deeplabv2")
@keras.saving.register_keras_serializable(package="kseg")
class DeepLabV2(SegmentationModel):
    """DeepLab v2 (Chen et al., TPAMI 2017): dilated backbone + ASPP, logits upsampled bilinearly.

    - ResNet-101 (or 50) at output stride 8 (conv4_x rate 2, conv5_x rate 4); ASPP
      branches are single 3x3 atrous convs to class logits, summed (§3.2, released model).
    - VGG-16 (DeepLab-LargeFOV adaptation, output stride 8); ASPP branches are
      fc6 (3x3 atrous, 1024) - fc7 (1x1, 1024) - fc8 (1x1, classes) with dropout (Fig. 7);
      `aspp="LargeFOV"` is the single branch of rate 12.
    - Multi-scale inputs (MSC, §3.2, §4.1.2): the shared network runs on the image resized
      by each factor of `multi_scale`, each score map is upsampled bilinearly to the input
      size and the maps are fused by the maximum at every position.
    - Training outputs (`training_outputs`): the dict `{"logits": fused, "logits_<s>": the
      map of scale s, ...}` that MSC training supervises term by term (the loss is the sum
      over every scale and the fused map, §3.2, Tab. 4 "+MSC"), either upsampled to the
      input (`"input"`) or at the output stride (`"output_stride"`, to compare with labels
      subsampled by it, §4); there the maps are fused at the largest scale's resolution,
      as the release's `Eltwise MAX` does. `inference_model()` is the network without them.

    No CRF inside: DenseCRF post-processing is a separate layer (`kseg.layers.DenseCRF`).

    Args:
        num_classes: int >= 2.
        backbone: "resnet101", "resnet50" or "vgg16", or a backbone model returning `P5`
            (see `kseg.backbones`; it gets the ResNet form of ASPP). Defaults to "resnet101".
        aspp: "L" (rates 6, 12, 18, 24), "S" (2, 4, 8, 12), "LargeFOV" (12) or a tuple of
            rates. Defaults to "L".
        multi_scale: None or a tuple of scales, e.g. (0.5, 0.75, 1.0). Defaults to None.
        output_stride: 8, 16 or 32 for a named backbone. Defaults to 8 (the paper's).
        backbone_weights: None, "imagenet" or a path; see the backbones. Defaults to None.
        backbone_options: dict or None. Further constructor arguments of a named backbone
            (e.g. `blocks`, `stage_filters` for a smaller ResNet). Defaults to None.
        dropout_rate: float. Dropout after fc6 and fc7 in each ASPP branch of the VGG16
            model (the paper's prototxt: 0.5); unused with ResNet. Defaults to 0.5.
        activation: None (logits) or "softmax" (probabilities). Defaults to None.
        training_outputs: None, "input" or "output_stride" (see above). Defaults to None
            (the inference model: images -> logits at the input size).
        input_shape: tuple (H, W, 3); None sides accept any size. Defaults to (None, None, 3).

    Input: RGB images `(batch, H, W, 3)` with values in [0, 255].
    Output: `(batch, H, W, num_classes)` float32 logits (or probabilities).

    Example:
    >>> model = DeepLabV2(num_classes=21, backbone="resnet101", aspp="L")
    >>> model(keras.ops.zeros((1, 321, 321, 3))).shape
    TensorShape([1, 321, 321, 21])
    """

    BACKBONES = ("resnet50", "resnet101", "vgg16")  # the names `backbone=` takes (or a backbone model)
    SCORE_LAYER = "aspp"

    def __init__(
        self,
        num_classes,
        backbone="resnet101",
        aspp="L",
        multi_scale=None,
        output_stride=8,
        backbone_weights=None,
        backbone_options=None,
        dropout_rate=0.5,
        activation=None,
        training_outputs=None,
        input_shape=(None, None, 3),
        **kwargs,
    ):
        check_model_kwargs(type(self), kwargs)  # before anything is built
        check_num_classes(num_classes)
        check_activation(activation)
        if not 0 <= float(dropout_rate) < 1:
            raise ValueError(f"Expected 0 <= dropout_rate < 1. Received: dropout_rate={dropout_rate}")
        input_shape = check_input_shape(input_shape)
        rates = resolve_aspp_rates(aspp)
        if multi_scale is not None:
            multi_scale = tuple(float(s) for s in multi_scale)
            if not multi_scale or any(s <= 0 for s in multi_scale):
                raise ValueError(f"Expected multi_scale=None or positive scales. Received: multi_scale={multi_scale}")
        if training_outputs not in (None, *LOSS_RESOLUTIONS):
            raise ValueError(
                f"Expected training_outputs in {(None, *LOSS_RESOLUTIONS)}. Received: training_outputs={training_outputs!r}"
            )
        if training_outputs and activation is not None:
            raise ValueError(f"training_outputs are logits: expected activation=None. Received: activation={activation!r}")
        vgg = backbone == "vgg16"
        net, backbone_name = resolve_backbone(
            backbone, self.BACKBONES, ("P5",), output_stride=output_stride,
            **(dict(include_fc=False) if vgg else dict(weights=backbone_weights)),  # VGG: weights loaded below
            **(backbone_options or {}),
        )
        kwargs.setdefault("name", f"deeplab_v2_{backbone_name}")
        if vgg:
            head = ASPP(num_classes, rates, hidden_filters=1024, dropout_rate=float(dropout_rate), name="aspp")
        else:
            head = ASPP(num_classes, rates, name="aspp")

        inputs = keras.Input(shape=input_shape, name="images")
        score_maps = {
            scale: head(net(ResizeByScale(scale, name=f"scale_{scale:g}")(inputs) if multi_scale else inputs)["P5"])
            for scale in multi_scale or (1.0,)
        }
        if training_outputs == "output_stride":
            outputs = _named_logits(_max_fusion(score_maps, largest=score_maps[max(score_maps)]), score_maps)
        else:
            upsampled = {
                scale: ResizeLike(name=f"upsample_{scale:g}" if multi_scale else "upsample")([maps, inputs])
                for scale, maps in score_maps.items()
            }
            fused = _max_fusion(upsampled)
            outputs = output_head(fused, activation) if training_outputs is None else _named_logits(fused, upsampled)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        self.num_classes = num_classes
        self.backbone_name = backbone_name
        self.multi_scale = multi_scale
        self.training_outputs = training_outputs
        self.output_stride = int(getattr(net, "output_stride", output_stride))
        self.backbone = net
        self.head = head
        if backbone_weights is not None and vgg:
            self._load_vgg_weights(backbone_weights)

    def inference_model(self):
        return self.without_training_outputs() if self.training_outputs else self

    def without_training_outputs(self):
        """The inference model: same weights, images -> fused logits at the input size."""
        return rebuilt_with(self, training_outputs=None, name=f"{self.name}_inference")

    def _load_vgg_weights(self, weights):
        # DeepLab initialises every ASPP branch's fc6/fc7 from the (decimated) ImageNet fc layers.
        options = self._constructor_arguments.get("backbone_options") or {}
        pretrained = VGG16Backbone(self.output_stride, include_fc=True, weights=weights, **options)
        transfer_weights_by_name(pretrained, self.backbone)
        fc6, fc7 = pretrained.get_layer("fc6").get_weights(), pretrained.get_layer("fc7").get_weights()
        for branch in self.head.branches:
            branch[0].set_weights(fc6)
            branch[2].set_weights(fc7)


def _max_fusion(score_maps, largest=None):
    """{scale: logits} -> their element-wise maximum ("msc_max"), each map first resized
    bilinearly to `largest` when given (maps of different sizes)."""
    if len(score_maps) == 1:
        return next(iter(score_maps.values()))
    maps = list(score_maps.values())
    if largest is not None:
        maps = [m if m is largest else ResizeLike(name=f"resize_{s:g}")([m, largest]) for s, m in score_maps.items()]
    return keras.layers.Maximum(name="msc_max")(maps)


def _named_logits(fused, score_maps):
    """The training outputs: {"logits": fused, "logits_<s>": each scale's map (with
    several scales)}, float32."""

    def output(x, name):
        return keras.layers.Activation("linear", dtype="float32", name=name)(x)

    outputs = {"logits": output(fused, "logits")}
    if len(score_maps) > 1:
        outputs.update({f"logits_{scale:g}": output(maps, f"logits_{scale:g}") for scale, maps in score_maps.items()})
    return outputs
