"""Fixtures of the command tests."""

import keras
import pytest

import kseg
from kseg.training.config import dump_config, load_config
from tests.tiny import TINY_RESNET


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory, data_root):
    """(run folder, config): a tiny random PAN saved as a run of the built-in data (6 validation images)."""
    folder = tmp_path_factory.mktemp("run")
    config = load_config(overrides=[f"data.root={data_root}", "data.val_limit=6"])  # 6 images keep the test quick
    dump_config(config, str(folder / "config.yaml"))
    keras.utils.set_random_seed(0)
    model = kseg.models.PAN(num_classes=5, backbone="resnet50", decoder_filters=16, backbone_options=TINY_RESNET)
    model.save(str(folder / "model.keras"))
    return str(folder), config
