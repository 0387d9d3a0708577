"""Weighted sums of losses and the `train.loss` expressions (kseg/losses/combined.py), against
the NumPy references of tests/losses/test_overlap.py."""

import numpy as np
import pytest

import kseg
from kseg.training.config import ConfigError, load_config
from tests.losses.test_overlap import _batch, _numpy_dice, _numpy_weighted_ce


def test_weighted_sum_and_config_expressions():
    labels, logits = _batch()
    assert kseg.losses.parse_loss_expression("cross_entropy + 0.5 * dice") == [(1.0, "cross_entropy"), (0.5, "dice")]
    summed = kseg.losses.WeightedSumLoss([kseg.losses.MaskedSparseCategoricalCrossentropy(), kseg.losses.DiceLoss()], [1.0, 0.5])
    expected = _numpy_weighted_ce(labels, logits, [1] * 4) + 0.5 * _numpy_dice(labels, logits)
    np.testing.assert_allclose(float(summed(labels, logits)), expected, rtol=1e-5)
    again = kseg.losses.WeightedSumLoss.from_config(summed.get_config())
    np.testing.assert_allclose(float(again(labels, logits)), expected, rtol=1e-5)

    from kseg.training.tasks import get_task

    config = load_config(overrides=["train.loss=cross_entropy + 0.5 * lovasz", "train.class_weights=[1, 2, 1, 1, 1]"])
    loss = get_task(config).build_loss()
    assert isinstance(loss, kseg.losses.WeightedSumLoss) and loss.weights == [1.0, 0.5]
    assert loss.losses[0].class_weights == [1.0, 2.0, 1.0, 1.0, 1.0]
    config = load_config(overrides=[
        "train.loss=focal + 0.5 * tversky", "train.class_weights=[1, 2, 1, 1, 1]", "train.focal_gamma=1.5",
        "train.tversky_alpha=0.4", "train.tversky_beta=0.6",
    ])
    focal, tversky = get_task(config).build_loss().losses
    assert (focal.gamma, focal.alpha, tversky.alpha, tversky.beta) == (1.5, [1.0, 2.0, 1.0, 1.0, 1.0], 0.4, 0.6)
    for overrides, message in [
        (["train.loss=cross_entropy + dise"], r"train.loss: cannot read 'dise' in 'cross_entropy \+ dise'"),
        (["train.loss=dice + 2 * dice"], "each loss at most once"),
        (["train.class_weights=[1, -1]"], "train.class_weights must be null, one number >= 0 per class"),
        (["train.class_weights=[1, 2]"], r"train.class_weights has 2 weights but data.num_classes=5"),
        (["train.class_weights=mean_frequency"], "train.class_weights must be null, one number >= 0 per class, or inverse_frequency"),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_config(overrides=overrides)
