"""Argument checks and the output head shared by the segmentation models."""

import keras

from kseg.backbones.common import check_input_shape, check_model_kwargs  # noqa: F401  (re-exported for the models)

_ACTIVATIONS = (None, "softmax")


def check_num_classes(num_classes):
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
        raise ValueError(f"Expected an integer num_classes >= 2. Received: num_classes={num_classes!r}")
    return num_classes


def check_backbone_name(name, allowed):
    if name not in allowed:
        raise ValueError(f"Unknown backbone {name!r}. Expected one of {sorted(allowed)}.")
    return name


def output_head(logits, activation):
    """Float32 logits, or probabilities with `activation="softmax"`."""
    if activation not in _ACTIVATIONS:
        raise ValueError(f"Expected activation in {_ACTIVATIONS}. Received: activation={activation!r}")
    name = "probabilities" if activation else "logits"
    return keras.layers.Activation(activation or "linear", dtype="float32", name=name)(logits)
