"""Sliding-window inference: overlapping windows averaged, checked by hand on a model whose
logits are a known function of the pixel."""

import numpy as np
import pytest

from kseg.inference import predict_sliding_window
from tests.inference.position_model import PositionModel


def test_sliding_window_equals_plain_inference_when_the_window_covers_the_image():
    image = np.random.RandomState(1).uniform(0, 255, (2, 10, 14, 3)).astype("float32")
    model = PositionModel()
    np.testing.assert_allclose(
        predict_sliding_window(model, image, (10, 14), 5).numpy(), model(image).numpy(), atol=1e-6
    )


def test_sliding_window_hand_checked_columns():
    # Width 10, windows of 4 at stride 3: starts 0, 3, 6 -> each window sees columns 0..3
    # of its own crop. Pixel 4 is covered by windows at 3 (local col 1) only: score 0.1.
    image = np.zeros((4, 10, 3), "float32")
    out = predict_sliding_window(PositionModel(), image, (4, 4), 3).numpy()
    expected = np.array([0, 1, 2, (3 + 0) / 2, 1, 2, (3 + 0) / 2, 1, 2, 3]) / 10.0
    np.testing.assert_allclose(out[0, :, 0], expected, atol=1e-6)


def test_sliding_window_on_an_image_smaller_than_the_window():
    image = np.random.RandomState(2).uniform(0, 255, (5, 6, 3)).astype("float32")
    out = predict_sliding_window(PositionModel(), image, 8, 4).numpy()
    assert out.shape == (5, 6, 2)
    np.testing.assert_allclose(out[..., 0], np.tile(np.arange(6) / 10.0, (5, 1)), atol=1e-6)
    np.testing.assert_allclose(out[..., 1], image[..., 0] / 100.0, atol=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="window and stride >= 1"):
        predict_sliding_window(PositionModel(), np.zeros((4, 4, 3), "float32"), 4, 0)
