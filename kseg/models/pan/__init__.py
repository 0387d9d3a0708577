"""PAN (Li et al., BMVC 2018): the model (`model.py`: FPA + GAU on a dilated ResNet) and its
training task (`task.py`, loaded by the trainer). Imported on first use."""

from kseg._lazy import lazy_attributes as _lazy_attributes

__all__ = ["PAN"]
__getattr__, __dir__ = _lazy_attributes(__name__, {"PAN": ".model"})
