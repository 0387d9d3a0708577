"""RelationNet (Zhuang et al., ICPR 2018): the model (`model.py`: Wide ResNet-38, relation module,
similarity subnet), its training task (`task.py`) and the `relation` config section (`config.py`). Imported on first use."""

from kseg._lazy import lazy_attributes as _lazy_attributes

__all__ = ["RelationNet"]
__getattr__, __dir__ = _lazy_attributes(__name__, {"RelationNet": ".model"})
