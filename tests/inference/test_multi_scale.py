"""Multi-scale and flipped inference (DeepLab v2 §3.2's MSC at test time), on a model whose
logits are a known function of the pixel."""

import numpy as np
import pytest
import tensorflow as tf

from kseg.inference import predict_multi_scale
from tests.inference.position_model import PositionModel


def test_multi_scale_identity_cases():
    image = np.random.RandomState(0).uniform(0, 255, (9, 12, 3)).astype("float32")
    model = PositionModel()
    logits = model(image[None]).numpy()[0]
    # One scale, no flip, max fusion: exactly the model.
    np.testing.assert_allclose(predict_multi_scale(model, image, (1.0,), fusion="max").numpy(), logits, atol=1e-6)
    # Mean fusion returns the softmax.
    probs = predict_multi_scale(model, image, (1.0,)).numpy()
    np.testing.assert_allclose(probs, tf.nn.softmax(logits).numpy(), atol=1e-6)
    # Flip: the column score of the mirrored run, mirrored back, is (W - 1 - col) / 10;
    # max fusion keeps the larger of col and W-1-col.
    both = predict_multi_scale(model, image, (1.0,), flip=True, fusion="max").numpy()
    cols = np.arange(12)
    np.testing.assert_allclose(both[0, :, 0], np.maximum(cols, 11 - cols) / 10.0, atol=1e-6)
    # A scale of 2 then bilinear back: output keeps the input size.
    assert predict_multi_scale(model, image[None], (0.5, 2.0), flip=True).shape == (1, 9, 12, 2)


def test_bad_arguments():
    image = np.zeros((4, 4, 3), "float32")
    with pytest.raises(ValueError, match="fusion in"):
        predict_multi_scale(PositionModel(), image, fusion="median")
    with pytest.raises(ValueError, match="positive scales"):
        predict_multi_scale(PositionModel(), image, scales=(0.0,))
