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

import importlib

from kseg._keras_registrations import register_when_keras_loads

__version__ = "0.1.0"

__all__ = [
    "layers", "backbones", "models", "losses", "metrics", "inference", "data", "serving", "visualize", "training",
    "crf_tuning",
]


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f"kseg.{name}")
    raise AttributeError(f"module 'kseg' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


register_when_keras_loads()
