"""kseg: semantic-segmentation models for TensorFlow 2 / Keras 3.

Public modules: ``kseg.layers``, ``kseg.backbones``, ``kseg.models``, ``kseg.losses``,
``kseg.metrics``, ``kseg.inference``, ``kseg.data``, ``kseg.serving``, ``kseg.visualize`` and
``kseg.training`` (the machinery behind ``python -m training.fit``), each imported on first
use (``kseg.models.PAN`` after ``import kseg`` works; ``import kseg.visualize`` loads no
TensorFlow). kseg's Keras objects are registered as soon as Keras loads, so
``keras.saving.load_model("runs/<run>/model.keras")`` works after ``import kseg``. Every model
takes RGB images with values in [0, 255] and normalises inside, so training, evaluation and
serving agree on preprocessing.
"""

from kseg._keras_registrations import register_when_keras_loads as _register_when_keras_loads
from kseg._lazy import lazy_attributes as _lazy_attributes

__version__ = "0.1.0"

__all__ = [
    "layers", "backbones", "models", "losses", "metrics", "inference", "data", "serving", "visualize", "training",
    "crf_tuning",
]
__getattr__, __dir__ = _lazy_attributes(__name__, {name: f".{name}" for name in __all__})

_register_when_keras_loads()
