"""The resize layers (kseg/layers/resize.py): ResizeLike is tf.image.resize to another tensor's
size, ResizeByScale gives DeepLab's scaled sizes (§3.2 MSC)."""

import numpy as np
import pytest
import tensorflow as tf

from kseg.layers import ResizeByScale, ResizeLike


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
