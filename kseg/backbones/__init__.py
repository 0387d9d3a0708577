"""Backbones: functional models from images to a dict of named feature levels.

The contract every kseg model relies on (written here once):

- Input: RGB images `(batch, H, W, 3)`, values in [0, 255]; the backbone normalises them
  itself (`include_preprocessing`), so its pretrained weights always see their own
  preprocessing.
- Output: a dict of feature maps `(batch, h, w, channels)`. ResNet-style backbones (and any
  backbone given to PAN, DeepLabV2 or `SSGANGenerator`) return `P2`..`P5`, keyed by the
  stride each level has in the undilated network: `P2` 1/4, `P3` 1/8, `P4` 1/16 and `P5`
  1/32, except that with dilation the true strides of `P4` and `P5` are
  `min(16, output_stride)` and `output_stride`. Channels are the backbone's own (ResNet-50/
  101: 256, 512, 1024, 2048); the decoders adapt to whatever they receive. VGG-16 returns
  `P1`..`P5` (pool1..pool5) and `fc7`; Wide ResNet-38 returns `block1`..`block7`.
- Attribute `output_stride`: the stride of the deepest level.

Models take `backbone=` as a name from `BACKBONES` (built with `get_backbone`, the paper's
structure and `backbone_weights`) or as a model following this contract, e.g.
`kseg.models.PAN(num_classes=3, backbone=kseg.backbones.get_backbone("resnet50", output_stride=8))`.
"""

import keras

from kseg.backbones.common import OUTPUT_STRIDES  # noqa: F401
from kseg.backbones.resnet import ResNet50, ResNet101, ResNetBackbone, from_timm  # noqa: F401
from kseg.backbones.vgg import VGG16, VGG16Backbone  # noqa: F401
from kseg.backbones.wide_resnet38 import WideResNet38Backbone  # noqa: F401
from kseg.backbones.weights import decimate_vgg_fc, transfer_weights_by_name  # noqa: F401

__all__ = [
    "decimate_vgg_fc",
    "from_timm",
    "get_backbone",
    "OUTPUT_STRIDES",
    "ResNet101",
    "ResNet50",
    "ResNetBackbone",
    "resolve_backbone",
    "transfer_weights_by_name",
    "VGG16",
    "VGG16Backbone",
    "WideResNet38Backbone",
]

BACKBONES = {"resnet50": ResNet50, "resnet101": ResNet101, "vgg16": VGG16, "wide_resnet38": WideResNet38Backbone}


def get_backbone(name, **kwargs):
    """Build a backbone by name (a key of `BACKBONES`) with constructor kwargs."""
    if name not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}. Expected one of {sorted(BACKBONES)}.")
    return BACKBONES[name](**kwargs)


def resolve_backbone(backbone, names, levels, **kwargs):
    """A model's `backbone=` argument as a backbone model.

    Args:
        backbone: a name in `names` (built by `get_backbone(backbone, **kwargs)`) or a
            keras.Model following the contract above.
        names: the backbone names the model accepts.
        levels: the feature keys the model reads, e.g. ("P2", "P3", "P4", "P5").
        **kwargs: constructor arguments for a named backbone. For a given model only
            `weights=None` is accepted (load its weights before passing it).

    Returns:
        (backbone model, name): the name is `backbone` itself or the model's name.
    """
    if isinstance(backbone, str):
        if backbone not in names:
            raise ValueError(f"Unknown backbone {backbone!r}. Expected one of {sorted(names)} or a backbone model.")
        return get_backbone(backbone, **kwargs), backbone
    if not isinstance(backbone, keras.Model):
        raise TypeError(
            f"Expected backbone to be a name or a keras.Model returning a dict of feature levels. "
            f"Received: {type(backbone).__name__}"
        )
    if kwargs.get("weights") is not None:
        raise ValueError(
            f"backbone_weights={kwargs['weights']!r} applies to a backbone given by name; "
            "load the weights into the backbone model before passing it"
        )
    outputs = backbone.output
    missing = [level for level in levels if not isinstance(outputs, dict) or level not in outputs]
    if missing:
        found = sorted(outputs) if isinstance(outputs, dict) else type(outputs).__name__
        raise ValueError(
            f"backbone {backbone.name!r} must return a dict with the feature levels {list(levels)}; "
            f"it lacks {missing} (it returns: {found})"
        )
    return backbone, backbone.name
