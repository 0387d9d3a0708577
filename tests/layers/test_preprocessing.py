import keras
import numpy as np
import pytest

from kseg.layers import ImageNormalization
from tests.layer_case import run_layer_test


def test_normalization_equals_keras_applications_caffe_preprocessing():
    x = np.random.RandomState(0).uniform(0, 255, (2, 5, 6, 3)).astype("float32")
    expected = keras.applications.resnet.preprocess_input(x.copy())
    np.testing.assert_allclose(ImageNormalization()(x).numpy(), expected, atol=1e-4)
    expected_vgg = keras.applications.vgg16.preprocess_input(x.copy())
    np.testing.assert_allclose(ImageNormalization()(x).numpy(), expected_vgg, atol=1e-4)
    as_uint8 = x.astype("uint8")
    np.testing.assert_allclose(
        ImageNormalization()(as_uint8).numpy(), keras.applications.vgg16.preprocess_input(as_uint8.astype("float32")), atol=1e-4
    )


def test_normalization_with_std_and_rgb_order():
    x = np.full((1, 2, 2, 3), 100.0, "float32")
    out = ImageNormalization(mean=(0, 50, 100), std=(1, 2, 4), to_bgr=False)(x).numpy()
    np.testing.assert_allclose(out[0, 0, 0], [100.0, 25.0, 0.0])


def test_normalization_rejects_other_than_3_channels():
    with pytest.raises(ValueError, match="3 channels"):
        ImageNormalization()(np.zeros((1, 4, 4, 4), "float32"))


def test_normalization_layer_basics():
    run_layer_test(
        ImageNormalization, {"mean": (1.0, 2.0, 3.0)}, np.random.rand(2, 4, 4, 3).astype("float32"),
        expected_output_shape=(2, 4, 4, 3), expected_num_trainable_weights=0, run_training=False,
    )
