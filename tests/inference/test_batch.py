"""One image or a batch (kseg/inference/batch.py), for every test-time procedure."""

import numpy as np
import pytest
import tensorflow as tf

from kseg.inference.batch import as_batch

IMAGES = np.random.default_rng(0).uniform(0, 255, (2, 12, 16, 3)).astype("float32")


def test_an_image_or_a_batch():
    batch, single = as_batch(IMAGES[0].astype("uint8"))
    assert batch.shape == (1, 12, 16, 3) and batch.dtype == tf.float32 and single
    assert not as_batch(IMAGES)[1]
    with pytest.raises(ValueError, match=r"Expected an image \(H, W, 3\) or a batch \(B, H, W, 3\). Received shape \(12, 16\)"):
        as_batch(IMAGES[0, ..., 0])
