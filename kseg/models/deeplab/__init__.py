"""DeepLab v2 (Chen et al., TPAMI 2018): the model (`model.py`: VGG16-LargeFOV or ResNet-101 with
ASPP, multi-scale fusion) and its training task (`task.py`, loaded by the trainer). Imported on first use."""

from kseg._lazy import lazy_attributes as _lazy_attributes

__all__ = ["DeepLabV2"]
__getattr__, __dir__ = _lazy_attributes(__name__, {"DeepLabV2": ".model"})
