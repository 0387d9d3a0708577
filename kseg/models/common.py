"""Argument checks and the output head shared by the segmentation models."""

import keras

from kseg.backbones.common import check_input_shape, check_model_kwargs  # noqa: F401  (re-exported for the models)
from kseg.constructor_config import ConstructorConfigModel  # noqa: F401  (re-exported)

_ACTIVATIONS = (None, "softmax")


def check_num_classes(num_classes):
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
        raise ValueError(f"Expected an integer num_classes >= 2. Received: num_classes={num_classes!r}")
    return num_classes


def check_activation(activation):
    """The models' `activation` argument: None (logits) or "softmax"."""
    if activation not in _ACTIVATIONS:
        raise ValueError(f"Expected activation in {_ACTIVATIONS}. Received: activation={activation!r}")
    return activation


def output_head(logits, activation):
    """Float32 logits, or probabilities with `activation="softmax"`."""
    check_activation(activation)
    name = "probabilities" if activation else "logits"
    return keras.layers.Activation(activation or "linear", dtype="float32", name=name)(logits)


class SegmentationModel(ConstructorConfigModel):
    """Base of kseg's segmentation networks: images (B, H, W, 3) in [0, 255] -> logits (B, H, W, C).

    `SCORE_LAYER` names the layer producing the class scores at the output stride, before
    upsampling (what shifted testing and the stride-resolution tools read).
    `inference_model()` is the network to evaluate and deploy: the model itself, unless a
    subclass has training-only outputs.
    """

    SCORE_LAYER = "classifier"

    def inference_model(self):
        return self


def rebuilt_with(model, **changes):
    """A new model of `model`'s class from its config with `changes` (e.g. without its
    training outputs), holding copies of `model`'s weights, matched by layer name."""
    config = {**model.get_config(), **changes}
    rebuilt = type(model).from_config(config)
    for layer in rebuilt.layers:
        if layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return rebuilt


def inference_model(model):
    """The part of `model` that segments (what is evaluated and deployed): its
    `inference_model()` if it has one (a GAN's generator, RelationNet without its training
    heads), else `model` itself."""
    return model.inference_model() if hasattr(model, "inference_model") else model
