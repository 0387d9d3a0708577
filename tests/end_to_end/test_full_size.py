"""Full-size models at the papers' crop sizes (slow on a 2-core CPU: run with `pytest -m large`)."""

import numpy as np
import pytest

import kseg
from tests.layer_case import run_model_saving_test

pytestmark = pytest.mark.large


def test_deeplab_v2_resnet101_msc_at_321(tmp_path):
    model = kseg.models.DeepLabV2(num_classes=21, multi_scale=(0.5, 0.75, 1.0))
    x = np.random.RandomState(0).uniform(0, 255, (1, 321, 321, 3)).astype("float32")
    run_model_saving_test(model, x, tmp_path, atol=1e-4)


def test_pan_resnet101_at_512(tmp_path):
    model = kseg.models.PAN(num_classes=21)
    x = np.random.RandomState(0).uniform(0, 255, (1, 512, 512, 3)).astype("float32")
    run_model_saving_test(model, x, tmp_path, atol=1e-4)
