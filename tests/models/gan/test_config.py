"""The `adversarial` config section (kseg/models/gan/config.py): read by the schema without
TensorFlow, its `--set lambda_adv=` shorthand for sweeps, its choices checked by name."""

import pytest

from kseg.training.config import ConfigError, load_config


def test_lambda_adv_shorthand_for_sweeps():
    config = load_config(overrides=["model.architecture=seggan", "model.backbone=vgg16", "lambda_adv=0.02"])
    assert config["adversarial"]["lambda_adv"] == 0.02
    with pytest.raises(ConfigError, match="adversarial.d_loss must be one of"):
        load_config(overrides=["adversarial.d_loss=hinge"])
