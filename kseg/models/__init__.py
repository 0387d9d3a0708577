"""Segmentation models: functional keras.Models taking RGB in [0, 255], returning logits at input size.

One folder per model family (`pan/`, `deeplab/`, `gan/`, `relationnet/`), each holding its
model classes, its training task and its config section; `registry.py` lists the families and
maps architecture names to model classes. Each is imported on first use; `ARCHITECTURES`
loads every family first.
"""

from kseg._lazy import lazy_attributes as _lazy_attributes

_PUBLIC = {
    "SegmentationModel": ".common", "inference_model": ".common",
    "FAMILIES": ".registry", "architectures": ".registry", "create": ".registry", "register_architecture": ".registry",
    "PAN": ".pan",
    "DeepLabV2": ".deeplab",
    "SegGAN": ".gan", "SSGAN": ".gan", "AdversarialSegmenter": ".gan", "SegGANDiscriminator": ".gan",
    "SSGANDiscriminator": ".gan", "SSGANGenerator": ".gan",
    "RelationNet": ".relationnet",
}
__all__ = ["ARCHITECTURES", *_PUBLIC]
_getattr, __dir__ = _lazy_attributes(__name__, {**_PUBLIC, "ARCHITECTURES": ".registry"})


def __getattr__(name):
    if name == "ARCHITECTURES":  # complete only once every family has registered
        return _getattr("architectures")()
    return _getattr(name)
