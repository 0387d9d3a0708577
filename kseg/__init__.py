"""kseg: semantic-segmentation models for TensorFlow 2 / Keras 3.

Public modules: ``kseg.layers``, ``kseg.backbones``, ``kseg.models``, ``kseg.losses``,
``kseg.metrics``, ``kseg.inference``, ``kseg.data``, ``kseg.serving``, ``kseg.visualize`` and
``kseg.training`` (the machinery behind ``python -m training.fit``). Every model takes RGB images with values in
[0, 255] and normalises inside, so training, evaluation and serving agree on preprocessing.
"""

__version__ = "0.1.0"

from kseg import layers  # noqa: E402,F401
from kseg import backbones  # noqa: E402,F401
from kseg import models  # noqa: E402,F401
from kseg import losses  # noqa: E402,F401
from kseg import metrics  # noqa: E402,F401
from kseg import visualize  # noqa: E402,F401
from kseg import inference  # noqa: E402,F401
from kseg import crf_tuning  # noqa: E402,F401
# The optimizer and schedule a training run's model.keras names: `import kseg` registers them.
from kseg import training  # noqa: E402,F401
