"""The `relation` config section (kseg/models/relationnet/config.py): the Spatial Correlation
Loss weight (eq. 2) with its `--set scl_weight=` shorthand, shifted testing's steps, values
checked by name."""

import pytest

from kseg.training.config import ConfigError, load_config

RELATIONNET = ["model.architecture=relationnet", "model.backbone=wide_resnet38", "model.output_stride=8"]


def test_the_section_and_its_shorthand():
    config = load_config(overrides=RELATIONNET + ["scl_weight=0.2", "relation.shifted_steps=4"])
    assert config.relation.scl_weight == 0.2 and config.relation.shifted_steps == 4
    assert load_config(overrides=RELATIONNET).relation == {"scl_weight": 0.1, "shifted_steps": None}  # the paper's lambda


@pytest.mark.parametrize("override, message", [
    ("scl_weight=-0.1", "relation.scl_weight must be >= 0"),
    ("relation.shifted_steps=0", "relation.shifted_steps must be"),
    ("relation.scl_weigth=0.1", r"Unknown config key 'relation.scl_weigth'"),
])
def test_bad_values_are_named(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=RELATIONNET + [override])
