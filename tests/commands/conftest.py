"""Fixtures of the command tests."""

import os

import keras
import numpy as np
import pytest
from PIL import Image

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


@pytest.fixture
def saved_run_url(saved_run, tmp_path):
    """`saved_run`'s model.keras and config.yaml in a run folder on TensorFlow's `ram://`, its URL."""
    import tensorflow as tf

    url = f"ram://{tmp_path.name}/runs/x"
    tf.io.gfile.makedirs(url)
    for name in ("model.keras", "config.yaml"):
        tf.io.gfile.copy(os.path.join(saved_run[0], name), f"{url}/{name}")
    return url


@pytest.fixture
def broken_voc(tmp_path):
    """A VOC-layout folder whose split `val` lists one good picture, then one that is not a JPEG."""
    root = tmp_path / "broken-voc"
    for folder in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        os.makedirs(root / folder)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "JPEGImages" / "good.jpg")
    (root / "JPEGImages" / "broken.jpg").write_bytes(b"not a picture")
    for name in ("good", "broken"):
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "SegmentationClass" / f"{name}.png")
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text("good\nbroken\n")
    return root
