"""A weighted sum of segmentation losses, and the config's loss expressions
(`train.loss: cross_entropy + 0.5 * dice`)."""

import re

import keras

from kseg.constants import SEGMENTATION_LOSSES

_TERM = re.compile(r"^\s*(?:(?P<weight>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*\*\s*)?(?P<name>[a-z_]+)\s*$")


def parse_loss_expression(text):
    """`"cross_entropy + 0.5 * dice"` -> [(1.0, "cross_entropy"), (0.5, "dice")].

    Terms are `[weight *] name` joined by `+`, names from `kseg.constants.SEGMENTATION_LOSSES`,
    each at most once, weights > 0. Raises ValueError naming the term it cannot read.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"expected a loss name or a sum like 'cross_entropy + 0.5 * dice'. Received: {text!r}")
    terms = []
    for part in text.split("+"):
        match = _TERM.match(part)
        if not match or match["name"] not in SEGMENTATION_LOSSES:
            raise ValueError(
                f"cannot read {part.strip()!r} in {text!r}: terms are [weight *] one of {list(SEGMENTATION_LOSSES)}, joined by +"
            )
        weight = float(match["weight"] or 1.0)
        if weight <= 0 or match["name"] in [name for _, name in terms]:
            raise ValueError(f"{text!r}: each loss at most once, with a weight > 0")
        terms.append((weight, match["name"]))
    return terms


@keras.saving.register_keras_serializable(package="kseg")
class WeightedSumLoss(keras.losses.Loss):
    """`sum_k weight_k * loss_k(y_true, y_pred)` for segmentation losses on the same output.

    Args:
        losses: list of Keras losses (or their serialized configs).
        weights: list of floats, one per loss.

    Call arguments: those of the losses. Returns a scalar.
    """

    def __init__(self, losses, weights, name="weighted_sum_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.losses = [keras.losses.get(loss) if isinstance(loss, dict) else loss for loss in losses]
        self.weights = [float(w) for w in weights]
        if len(self.losses) != len(self.weights) or not self.losses:
            raise ValueError(f"Expected one weight per loss. Received: {len(self.losses)} losses, weights={weights}")

    def call(self, y_true, y_pred):
        return sum(weight * loss(y_true, y_pred) for weight, loss in zip(self.weights, self.losses))

    def get_config(self):
        return {
            **super().get_config(),
            "losses": [keras.saving.serialize_keras_object(loss) for loss in self.losses],
            "weights": self.weights,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["losses"] = [keras.saving.deserialize_keras_object(loss) for loss in config["losses"]]
        return cls(**config)
