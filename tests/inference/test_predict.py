"""The test-time procedure (kseg/inference/predict.py): plain, multi-scale, sliding-window and CRF
predictions composed in one call, equal to their parts; what cannot be combined refused."""

import numpy as np
import pytest
import tensorflow as tf

from kseg.inference import predict, predict_multi_scale, predict_sliding_window, refine
from kseg.inference.predict import TestTimeOptionError, predictor
from tests.inference.position_model import PositionModel

IMAGES = np.random.default_rng(0).uniform(0, 255, (2, 12, 16, 3)).astype("float32")


def test_each_option_is_its_procedure_and_the_predictor_traces_the_same():
    model = PositionModel()
    np.testing.assert_allclose(predict(model, IMAGES), model(IMAGES), atol=1e-6)
    fused = predict(model, IMAGES, scales=(0.5, 1.0), flip=True)
    np.testing.assert_allclose(fused, np.log(predict_multi_scale(model, IMAGES, (0.5, 1.0), flip=True) + 1e-8), atol=1e-5)
    windowed = predict(model, IMAGES, sliding_window=8, stride=4)
    np.testing.assert_allclose(windowed, predict_sliding_window(model, IMAGES, 8, 4), atol=1e-6)
    refined = predict(model, IMAGES, crf="conv")
    np.testing.assert_allclose(refined, refine(model(IMAGES), IMAGES, crf="conv"), atol=1e-5)
    np.testing.assert_allclose(predictor(model, scales=(0.5, 1.0), flip=True)(tf.constant(IMAGES)), fused, atol=1e-5)
    np.testing.assert_allclose(predictor(model, sliding_window=8, stride=4)(IMAGES), windowed, atol=1e-6)


def test_shifted_testing_and_a_sliding_window_are_refused_together():
    with pytest.raises(TestTimeOptionError, match="shifted testing and a sliding window cannot be combined"):
        predict(PositionModel(), IMAGES, sliding_window=8, shifted_steps=2)


@pytest.mark.parametrize("crf", ["dense", "conv"])
def test_a_crf_is_built_before_the_predictor_traces_so_it_traces_once(crf):
    import keras

    from kseg.layers.crf import make_crf

    model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(3, 1)])
    forward = predictor(model, crf=make_crf(crf, num_iterations=2))
    refined = forward(tf.constant(IMAGES))
    assert forward.experimental_get_tracing_count() == 1  # weights created inside the trace made it trace twice
    expected = refine(model(IMAGES), IMAGES, crf=make_crf(crf, num_iterations=2))
    np.testing.assert_allclose(refined, expected, atol=1e-5)
