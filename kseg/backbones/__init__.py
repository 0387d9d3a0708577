"""Dilated backbones returning dicts of named feature levels (see each class for the keys)."""

from kseg.backbones.common import OUTPUT_STRIDES  # noqa: F401
from kseg.backbones.resnet import ResNet50, ResNet101, ResNetBackbone  # noqa: F401
from kseg.backbones.vgg import VGG16, VGG16Backbone  # noqa: F401
from kseg.backbones.wide_resnet38 import WideResNet38Backbone  # noqa: F401
from kseg.backbones.weights import decimate_vgg_fc, transfer_weights_by_name  # noqa: F401

BACKBONES = {"resnet50": ResNet50, "resnet101": ResNet101, "vgg16": VGG16}


def get_backbone(name, **kwargs):
    """Build a backbone by name ("resnet50", "resnet101", "vgg16") with constructor kwargs."""
    if name not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}. Expected one of {sorted(BACKBONES)}.")
    return BACKBONES[name](**kwargs)
