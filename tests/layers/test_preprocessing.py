import keras
import numpy as np
import pytest
import tensorflow as tf

from kseg.layers import ImageNormalization, ResizeByScale, ResizeLike
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


def test_resize_like_is_tf_image_resize():
    x = np.random.rand(2, 5, 7, 3).astype("float32")
    ref = np.zeros((2, 17, 11, 1), "float32")
    out = ResizeLike()([x, ref]).numpy()
    np.testing.assert_allclose(out, tf.image.resize(x, (17, 11)).numpy(), atol=1e-6)
    nearest = ResizeLike("nearest")([x, ref]).numpy()
    np.testing.assert_array_equal(nearest, tf.image.resize(x, (17, 11), method="nearest").numpy())


@pytest.mark.parametrize("scale, side", [(0.5, 161), (0.75, 241), (1.0, 321), (1.5, 482)])
def test_resize_by_scale_sizes_match_deeplab(scale, side):
    x = np.zeros((1, 321, 321, 3), "float32")
    assert ResizeByScale(scale)(x).shape == (1, side, side, 3)
    assert ResizeByScale(scale).compute_output_shape((1, 321, 321, 3)) == (1, side, side, 3)


def test_resize_bad_arguments():
    with pytest.raises(ValueError, match="scale > 0"):
        ResizeByScale(0)
    with pytest.raises(ValueError, match="interpolation in"):
        ResizeLike("bicubic")
