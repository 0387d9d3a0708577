"""The BatchNormalization policy of a training run (`model.batch_norm`).

- `train`: every BN layer normalises with its batch's statistics and updates its moving
  averages (per replica under a distribution strategy): PAN §4 trains BN at batch 16.
- `frozen`: the backbone's BN layers run in inference mode with their (ImageNet) moving
  statistics, and their scale and offset are not trained, as DeepLab v2's released
  ResNet-101 models train (batch 10 at 321x321, where per-batch statistics are noise).
  Keras 3 runs a BN layer whose `trainable` is False in inference mode.
- `sync`: every BN layer computes its statistics over all replicas' batches
  (`BatchNormalization(synchronized=True)`), so N replicas normalise like one process
  with the global batch.
"""

import keras

from kseg.constants import BATCH_NORM_POLICIES
from kseg.training.schema import ConfigError


def batch_norm_layers(model):
    """Every `keras.layers.BatchNormalization` inside `model`, nested layers included."""
    return [layer for layer in model._flatten_layers(include_self=False) if isinstance(layer, keras.layers.BatchNormalization)]


def apply_batch_norm_policy(policy, segmenter):
    """Apply `policy` to `segmenter` (a network with a `backbone` attribute for `frozen`);
    call it before the optimizer is built. Returns the BN layers it changed."""
    if policy == "train":
        return []
    if policy == "frozen":
        backbone = getattr(segmenter, "backbone", None)
        if backbone is None:
            raise ConfigError(f"model.batch_norm=frozen needs a model with a backbone; {segmenter.name!r} has none")
        layers = batch_norm_layers(backbone)
        for layer in layers:
            layer.trainable = False
        return layers
    if policy == "sync":
        layers = batch_norm_layers(segmenter)
        for layer in layers:
            layer.synchronized = True  # read at call time by keras.ops.moments
        return layers
    raise ConfigError(f"model.batch_norm must be one of {list(BATCH_NORM_POLICIES)}. Received: {policy!r}")
