import keras
import numpy as np
import pytest

from kseg.backbones import VGG16Backbone, decimate_vgg_fc


def _images(size=64, batch=2, seed=0):
    return np.random.RandomState(seed).uniform(0, 255, (batch, size, size, 3)).astype("float32")


def test_weight_mapping_from_keras_applications(tmp_path):
    reference = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    path = str(tmp_path / "vgg16_notop.weights.h5")
    reference.save_weights(path)
    backbone = VGG16Backbone(output_stride=32, pool_size=2, include_fc=False, weights=path)
    x = _images()
    expected = reference(keras.applications.vgg16.preprocess_input(x.copy())).numpy()
    got = backbone(x)["P5"].numpy()
    assert got.shape == expected.shape == (2, 2, 2, 512)
    assert np.abs(expected).max() > 1e-3
    assert np.abs(got - expected).max() <= 1e-4


def test_largefov_geometry():
    # DeepLab-LargeFOV: pool4/pool5 stride 1, conv5 rate 2, fc6 3x3 rate 12 with 1024 filters, fc7 1x1-1024.
    backbone = VGG16Backbone()
    assert backbone.get_layer("block4_pool").strides == (1, 1)
    assert backbone.get_layer("block5_pool").strides == (1, 1)
    assert backbone.get_layer("block3_pool").strides == (2, 2)
    assert backbone.get_layer("block4_conv3").dilation_rate == (1, 1)
    assert all(backbone.get_layer(f"block5_conv{i}").dilation_rate == (2, 2) for i in (1, 2, 3))
    fc6, fc7 = backbone.get_layer("fc6"), backbone.get_layer("fc7")
    assert (fc6.kernel_size, fc6.rate, fc6.filters) == (3, 12, 1024)
    assert (fc7.kernel_size, fc7.rate, fc7.filters) == (1, 1, 1024)
    features = backbone(_images(size=64, batch=1))
    assert features["P5"].shape == (1, 8, 8, 512)
    assert features["fc7"].shape == (1, 8, 8, 1024)
    assert sorted(features) == ["P1", "P2", "P3", "P4", "P5", "fc7"]


def test_output_stride_16():
    backbone = VGG16Backbone(output_stride=16, include_fc=False)
    assert backbone.get_layer("block4_pool").strides == (2, 2)
    assert backbone.get_layer("block5_pool").strides == (1, 1)
    assert backbone.get_layer("block5_conv1").dilation_rate == (1, 1)
    assert backbone(_images(size=64, batch=1))["P5"].shape == (1, 4, 4, 512)


def test_fc_decimation():
    rng = np.random.RandomState(0)
    fc1 = rng.randn(7 * 7 * 512, 4096).astype("float32")
    fc2 = rng.randn(4096, 4096).astype("float32")
    b1, b2 = rng.randn(4096).astype("float32"), rng.randn(4096).astype("float32")
    k6, bias6, k7, bias7 = decimate_vgg_fc(fc1, b1, fc2, b2)
    assert k6.shape == (3, 3, 512, 1024) and bias6.shape == (1024,)
    assert k7.shape == (1, 1, 1024, 1024) and bias7.shape == (1024,)
    # Tap (1, 2) of the 3x3 kernel is tap (3, 6) of the 7x7 one; filter j is filter 4j.
    assert k6[1, 2, 10, 5] == fc1[(3 * 7 + 6) * 512 + 10, 20]
    assert k7[0, 0, 3, 7] == fc2[12, 28]
    assert bias6[9] == b1[36]


@pytest.mark.parametrize(
    "kwargs, message",
    [({"output_stride": 4}, "output_stride in"), ({"pool_size": 4}, "pool_size in"), ({"input_shape": (8, 8, 1)}, "3\\)")],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VGG16Backbone(**kwargs)


def test_save_and_load(tmp_path):
    backbone = VGG16Backbone(fc_filters=64)
    x = _images(size=32, batch=1)
    expected = backbone(x, training=False)
    path = str(tmp_path / "vgg.keras")
    backbone.save(path)
    restored = keras.saving.load_model(path)
    assert restored.get_config() == backbone.get_config()
    got = restored(x, training=False)
    for key in expected:
        np.testing.assert_allclose(got[key].numpy(), expected[key].numpy(), atol=1e-4)
