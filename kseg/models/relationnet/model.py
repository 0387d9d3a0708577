"""RelationNet (Zhuang et al., ICPR 2018): Wide ResNet-38 with deformable convolutions, a
bidirectional-GRU relation module, a classifier and, for training, the similarity subnet."""

import keras

from kseg.backbones import resolve_backbone
from kseg.backbones.wide_resnet38 import WIDE_RESNET38_BLOCKS
from kseg.layers.conv_block import ConvBNActivation
from kseg.layers.relation import RelationModule, ShiftCorrelation, SimilarityHead
from kseg.layers.resize import ResizeLike
from kseg.models.common import (
    SegmentationModel, check_activation, check_input_shape, check_model_kwargs, check_num_classes, output_head, rebuilt_with,
)
from kseg.models.registry import register_architecture


@register_architecture("relationnet")
@keras.saving.register_keras_serializable(package="kseg")
class RelationNet(SegmentationModel):
    """RelationNet (Fig. 2): Wide ResNet-38 (deformable blocks 6-7, output stride 8) ->
    relation module (left-right then up-down bidirectional GRU, §II-A2) -> 1x1 classifier,
    upsampled bilinearly to the input size.

    With `training_heads=True` the model also returns the similarity subnet's prediction
    (§II-A3): the relation features go through `ShiftCorrelation` (each position paired
    with its 9 neighbours) and `SimilarityHead`, giving the logits of P(same label) that
    the Spatial Correlation Loss supervises. Outputs are then a dict
    `{"logits": (B, H, W, C), "similarity": (B, H/8, W/8, 9)}`; train with
    `OHEMCrossEntropy` on "logits" and `SpatialCorrelationLoss` with weight 0.1 on
    "similarity" (eq. 2). The inference model (`training_heads=False`, the default) has the
    same weights minus the similarity head and returns the logits alone, so it evaluates and
    exports like any segmentation model; `without_training_heads()` makes it from a
    trained model.

    The paper does not say how the 4096 channels of block 7 enter the GRUs; a 1x1 conv
    with BN + ReLU reduces them to `reduce_filters` first (0 disables it).

    Args:
        num_classes: int >= 2.
        backbone: "wide_resnet38", or a backbone model returning `block7` (see
            `kseg.backbones`). Defaults to "wide_resnet38".
        hidden_size: int. GRU units per direction in the relation module. Defaults to 256.
        reduce_filters: int. Width of the 1x1 reduction before the relation module; 0 for
            none. Defaults to 512.
        deformable: bool. Deformable convs in backbone blocks 6-7. Defaults to True.
        training_heads: bool. Also output the similarity subnet. Defaults to False.
        similarity_hidden: int. Hidden width of the similarity head. Defaults to 256.
        backbone_blocks: Wide ResNet-38 block layout (named backbone). Defaults to model A's.
        backbone_weights: None or a path. Defaults to None.
        activation: None (logits) or "softmax". Defaults to None.
        input_shape: tuple (H, W, 3). Defaults to (None, None, 3).

    Example:
    >>> model = RelationNet(num_classes=19)
    >>> model(keras.ops.zeros((1, 64, 64, 3))).shape
    TensorShape([1, 64, 64, 19])
    """

    BACKBONES = ("wide_resnet38",)  # the names `backbone=` takes (or a backbone model)
    OUTPUT_STRIDE = 8  # fixed by Wide ResNet-38's dilated blocks 6-7 (§II-A1)

    def __init__(
        self,
        num_classes,
        backbone="wide_resnet38",
        hidden_size=256,
        reduce_filters=512,
        deformable=True,
        training_heads=False,
        similarity_hidden=256,
        backbone_blocks=WIDE_RESNET38_BLOCKS,
        backbone_weights=None,
        activation=None,
        input_shape=(None, None, 3),
        **kwargs,
    ):
        check_model_kwargs(type(self), kwargs)  # before anything is built
        check_num_classes(num_classes)
        check_activation(activation)
        input_shape = check_input_shape(input_shape)
        kwargs.setdefault("name", "relationnet")
        net, backbone_name = resolve_backbone(
            backbone, self.BACKBONES, ("block7",), deformable=deformable, blocks=backbone_blocks,
            weights=backbone_weights,
        )
        inputs = keras.Input(shape=input_shape, name="images")
        x = net(inputs)["block7"]
        if reduce_filters:
            x = ConvBNActivation(int(reduce_filters), 1, batch_norm=True, activation="relu", name="reduce")(x)
        relation = RelationModule(hidden_size, name="relation")(x)
        logits = keras.layers.Conv2D(num_classes, 1, name="classifier")(relation)
        logits = output_head(ResizeLike(name="upsample")([logits, inputs]), activation)
        if training_heads:
            correlation = ShiftCorrelation(name="shift_correlation")(relation)
            similarity = SimilarityHead(similarity_hidden, name="similarity")(correlation)
            outputs = {"logits": logits, "similarity": similarity}
        else:
            outputs = logits
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        self.num_classes = num_classes
        self.backbone_name = backbone_name
        self.training_heads = bool(training_heads)
        self.backbone = net

    def inference_model(self):
        return self.without_training_heads() if self.training_heads else self

    def without_training_heads(self):
        """The inference model: same weights, logits only (drops the similarity subnet)."""
        return rebuilt_with(self, training_heads=False, name=f"{self.name}_inference")
