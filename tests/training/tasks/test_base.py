"""The base `Task` (kseg/training/tasks/base.py) on its own: which constructor arguments come
from which config keys, what `model.options` may set, the checks a config meets before any
data or model work, and the parameter count. The families' own tasks are tested beside them."""

import keras
import pytest

from kseg.training.config import ConfigError, load_config
from kseg.training.tasks import get_task
from kseg.training.tasks.base import parameter_count


def test_arguments_come_from_their_keys_under_the_name_the_model_gives_them():
    ssgan = get_task(load_config(overrides=["model.architecture=ssgan", "model.backbone=resnet50", "model.output_stride=8"]))
    arguments = ssgan.config_arguments()
    assert arguments["generator"] == "resnet50" and "backbone" not in arguments  # SS-GAN calls its backbone `generator`
    assert arguments["num_classes"] == 5 and arguments["output_stride"] == 8
    assert "generator" not in ssgan.accepted_options() and "num_classes" not in ssgan.accepted_options()
    pan = get_task(load_config())
    assert pan.config_arguments()["backbone"] == load_config()["model"]["backbone"]
    assert "decoder_filters" in pan.accepted_options() and "self" not in pan.accepted_options()


@pytest.mark.parametrize("overrides, message", [
    (["train.class_weights=[1, 2]"], r"train.class_weights has 2 weights but data.num_classes=5"),
    (["model.options.num_classes=3"], r"model.options.num_classes: set data.num_classes instead"),
    (["model.backbone=vgg16"], r"model.backbone must be one of \[.*\] for model.architecture=pan. Received: 'vgg16'; set model.architecture=deeplabv2"),
])
def test_a_config_the_task_cannot_train_is_one_line_naming_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=overrides)


def test_an_architecture_without_a_task_is_named():
    config = load_config()
    with pytest.raises(ConfigError, match=r"model.architecture must be one of \[.*'pan'.*\]. Received: 'nosuch'"):
        get_task(config.replace({"model.architecture": "nosuch"}))


def test_the_parameter_count_counts_every_weight_trainable_or_not():
    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(2, 3), keras.layers.BatchNormalization()])
    assert parameter_count(model) == model.count_params() == 3 * 3 * 3 * 2 + 2 + 4 * 2
