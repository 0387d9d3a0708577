"""DeformableConv2D: a plain convolution at zero offsets, a shifted one at integer offsets,
gradients reach the offsets, and it saves and exports."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kseg.layers import DeformableConv2D
from tests.layer_case import run_layer_test


def _input(shape=(2, 11, 12, 3), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _reference_conv(layer, x):
    conv = keras.layers.Conv2D(
        layer.filters, layer.kernel_size, strides=layer.strides, dilation_rate=layer.dilation_rate, padding="same"
    )
    conv.build(x.shape)
    conv.set_weights([layer.kernel.numpy(), layer.bias.numpy()])
    return conv(x).numpy()


@pytest.mark.parametrize("strides, dilation, size", [(1, 1, (11, 12)), (1, 2, (11, 12)), (2, 1, (12, 12)), (2, 1, (11, 13))])
def test_zero_offsets_equal_conv2d(strides, dilation, size):
    x = _input((2, *size, 3))
    layer = DeformableConv2D(5, 3, strides=strides, dilation_rate=dilation)
    layer(x)  # build
    layer.bias.assign(np.arange(5, dtype="float32"))
    got = layer(x).numpy()
    np.testing.assert_allclose(got, _reference_conv(layer, x), atol=1e-5)


def test_integer_offsets_equal_the_conv_of_a_shifted_input():
    x = _input()
    layer = DeformableConv2D(4, 3, modulation=False)
    layer(x)
    dy, dx = 1, -2
    bias = np.tile(np.array([dy, dx], "float32"), 9)  # every tap moves by (dy, dx)
    layer.offset_conv.bias.assign(bias)
    got = layer(x).numpy()
    shifted = np.zeros_like(x)  # shifted[i, j] = x[i + dy, j + dx], zero outside
    shifted[:, : x.shape[1] - dy, -dx:] = x[:, dy:, : x.shape[2] + dx]
    # Where a tap falls in the conv's zero padding the deformable one still reads x (shifted
    # back inside), so compare the outputs whose 3x3 taps all lie inside the image.
    np.testing.assert_allclose(got[:, 1:-1, 1:-1], _reference_conv(layer, shifted)[:, 1:-1, 1:-1], atol=1e-5)


def test_half_pixel_offset_interpolates():
    x = _input((1, 6, 6, 1))
    layer = DeformableConv2D(1, 1, use_bias=False)
    layer(x)
    layer.kernel.assign(np.ones((1, 1, 1, 1), "float32"))
    layer.offset_conv.bias.assign(np.array([0.0, 0.5], "float32"))
    got = layer(x).numpy()[0, :, :-1, 0]
    np.testing.assert_allclose(got, (x[0, :, :-1, 0] + x[0, :, 1:, 0]) / 2, atol=1e-6)
    assert abs(layer(x).numpy()[0, 0, -1, 0] - x[0, 0, -1, 0] / 2) < 1e-6  # half outside: zero padding


def test_modulation_starts_at_one_half_and_gradients_reach_the_offsets():
    x = _input()
    plain, modulated = DeformableConv2D(4, 3), DeformableConv2D(4, 3, modulation=True)
    plain(x)
    modulated(x)
    modulated.set_weights([w.copy() for w in plain.get_weights()[:2]] + [np.zeros_like(w) for w in modulated.get_weights()[2:]])
    np.testing.assert_allclose(modulated(x).numpy() - modulated.bias.numpy(), 0.5 * (plain(x).numpy() - plain.bias.numpy()), atol=1e-5)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(modulated(x) ** 2)
    grads = tape.gradient(loss, modulated.offset_conv.trainable_variables)
    assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)


def test_layer_contract():
    run_layer_test(
        DeformableConv2D,
        {"filters": 4, "kernel_size": 3, "strides": 2, "dilation_rate": 1, "modulation": True},
        _input((2, 8, 8, 3)),
        expected_output_shape=(2, 4, 4, 4),
        expected_num_trainable_weights=4,
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [({"filters": 0}, "filters >= 1"), ({"filters": 2, "kernel_size": 2}, "odd kernel_size"), ({"filters": 2, "strides": 0}, "strides >= 1")],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DeformableConv2D(**kwargs)


def test_saved_model_with_dynamic_size(tmp_path):
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, DeformableConv2D(4, 3, dilation_rate=2, modulation=True)(inputs))
    model.layers[-1].offset_conv.bias.assign(np.linspace(-1.5, 1.5, 27).astype("float32"))
    path = str(tmp_path / "saved")
    model.export(path, format="tf_saved_model")
    loaded = tf.saved_model.load(path)
    for size in ((9, 10), (16, 7)):
        x = _input((1, *size, 3))
        np.testing.assert_allclose(loaded.serve(x).numpy(), model(x).numpy(), atol=1e-5)
