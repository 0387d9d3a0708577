"""The config's value checks (kseg/training/checks.py, through the schema): a bad value is one
line naming the key, what it must be and what it is."""

import pytest

from kseg.training.config import ConfigError, load_config
from kseg.training.schema import DEFAULTS


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.crop=[a,b]", r"data.crop must be \[height, width: positive integers\]. Received: \['a', 'b'\] \(list\)"),
        ("data.crop=0", r"data.crop must be \[height, width: positive integers\] \(a list of two\), or one for both. Received: 0 \(int\)"),
        ("data.crop=[64]", r"data.crop must be \[height, width: positive integers\] \(a list of two\). Received: \[64\] \(list\)"),
        ("data.scale=[a,b]", r"data.scale must be \[low, high: positive numbers\]. Received: \['a', 'b'\] \(list\)"),
        ("optimizer.learning_rate=abc", r"optimizer.learning_rate must be >= 0. Received: 'abc' \(str\)"),
        ("train.steps=true", r"train.steps must be a positive integer. Received: True \(bool\)"),
        ("data.batch_size=2.5", r"data.batch_size must be a positive integer. Received: 2.5 \(float\)"),
        ("data.flip=1", r"data.flip must be true or false. Received: 1 \(int\)"),
        ("model.output_stride=12", r"model.output_stride must be one of \[8, 16, 32\]. Received: 12 \(int\)"),
    ],
)
def test_bad_values_name_key_expected_and_received(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=[override])


def test_one_number_is_a_square_size():
    assert load_config(overrides=["data.crop=64"])["data"]["crop"] == [64, 64]
    assert load_config(overrides=["data.crop=[64, 32]"])["data"]["crop"] == [64, 32]


def test_numbers_written_the_yaml_1_1_way_are_numbers():
    config = load_config(overrides=["optimizer.learning_rate=1e8", "optimizer.weight_decay=5e-4"])
    assert config["optimizer"]["learning_rate"] == 1e8 and config["optimizer"]["weight_decay"] == 5e-4


def test_model_options_are_checked_against_the_architecture():
    from kseg.training.tasks import get_task

    def check_model_options(config):
        get_task(config).check()

    with pytest.raises(ConfigError, match=r"model.options.bogus is not an argument of PAN \(model.architecture=pan\); it takes: .*decoder_filters"):
        check_model_options(load_config(overrides=["model.options.bogus=1"]))
    assert load_config(overrides=["model.options.pyramid_filters=1"])["model"]["options"] == {**DEFAULTS["model"]["options"], "pyramid_filters": 1}
    with pytest.raises(ConfigError, match="model.options.backbone: set model.backbone instead"):
        check_model_options(load_config(overrides=["model.options={backbone: resnet101}"]))
    check_model_options(load_config(overrides=["model.architecture=deeplabv2", "model.options={aspp: S}"]))
