import keras
import numpy as np
import pytest
import tensorflow as tf

from kseg.layers import ConvBNActivation
from tests.layer_case import run_layer_test


@pytest.mark.parametrize("rate", [1, 2, 6, 12])
def test_equals_tf_nn_atrous_conv2d(rate):
    x = np.random.RandomState(0).randn(2, 29, 31, 5).astype("float32")
    layer = ConvBNActivation(7, kernel_size=3, rate=rate, use_bias=False)
    out = layer(x)
    expected = tf.nn.atrous_conv2d(x, layer.kernel, rate=rate, padding="SAME")
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-5)


def test_bias_bn_relu():
    x = np.random.RandomState(1).randn(2, 9, 9, 4).astype("float32")
    layer = ConvBNActivation(3, rate=2, batch_norm=True, activation="relu")
    out = layer(x, training=False).numpy()
    assert layer.bias is None  # BN replaces the bias
    conv = tf.nn.atrous_conv2d(x, layer.kernel, rate=2, padding="SAME").numpy()
    bn = layer.bn
    gamma, beta, mean, var = (w.numpy() for w in (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance))
    expected = np.maximum((conv - mean) / np.sqrt(var + 1e-5) * gamma + beta, 0)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_layer_basics():
    run_layer_test(
        ConvBNActivation,
        {"filters": 4, "kernel_size": 3, "rate": 2, "batch_norm": True, "activation": "relu"},
        np.random.rand(2, 8, 8, 3).astype("float32"),
        expected_output_shape=(2, 8, 8, 4),
        expected_num_trainable_weights=3,  # kernel, gamma, beta
        expected_num_non_trainable_weights=2,
    )


def test_plain_layer_weight_count():
    run_layer_test(
        ConvBNActivation,
        {"filters": 4, "rate": 3},
        np.random.rand(1, 8, 8, 3).astype("float32"),
        expected_output_shape=(1, 8, 8, 4),
        expected_num_trainable_weights=2,
    )


@pytest.mark.parametrize("kwargs, message", [({"filters": 0}, "filters >= 1"), ({"filters": 3, "rate": 0}, "rate >= 1")])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConvBNActivation(**kwargs)


def test_save_and_load(tmp_path):
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, ConvBNActivation(5, rate=4, batch_norm=True)(inputs))
    from tests.layer_case import run_model_saving_test

    run_model_saving_test(model, np.random.rand(1, 12, 12, 3).astype("float32"), tmp_path)


def test_models_saved_under_the_old_name_still_load(tmp_path):
    import zipfile

    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, ConvBNActivation(4, rate=2, batch_norm=True, name="block")(inputs))
    path = str(tmp_path / "new.keras")
    model.save(path)
    old = str(tmp_path / "old.keras")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "config.json":
                data = data.replace(b'"ConvBNActivation"', b'"AtrousConv2D"').replace(b"kseg>ConvBNActivation", b"kseg>AtrousConv2D")
                assert b"AtrousConv2D" in data
            dst.writestr(item, data)
    x = np.random.RandomState(0).normal(size=(1, 8, 8, 3)).astype("float32")
    np.testing.assert_array_equal(keras.saving.load_model(old)(x), model(x))
