"""atrous_conv2d is TensorFlow's dilated Conv2D forward, with a gradient on every backend: its
space-to-batch backward equals the gradient of `tf.nn.convolution` (which takes the
space-to-batch route for dilated convs and so differentiates without oneDNN)."""

import numpy as np
import pytest
import tensorflow as tf

from kseg.layers import atrous
from kseg.layers.atrous import atrous_conv2d


def _value_and_gradients(conv, x, kernel, upstream):
    with tf.GradientTape() as tape:
        tape.watch([x, kernel])
        y = conv(x, kernel)
    return [y, *tape.gradient(y, [x, kernel], output_gradients=upstream)]


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize(
    "kernel_size, rate, height, width",
    [(3, 2, 13, 17), (3, 6, 7, 9), (3, 12, 1, 2), (3, 24, 5, 4), (1, 3, 4, 4), (2, 3, 6, 5)],  # sides not multiples of r
)
def test_values_and_gradients_match_the_space_to_batch_convolution(monkeypatch, native, kernel_size, rate, height, width):
    rng = np.random.default_rng(rate * 100 + height)
    span = rate * (kernel_size - 1)
    x = tf.constant(rng.normal(size=(2, height + span, width + span, 5)), tf.float32)
    kernel = tf.constant(rng.normal(size=(kernel_size, kernel_size, 5, 3)), tf.float32)
    upstream = tf.constant(rng.normal(size=(2, height, width, 3)), tf.float32)
    if native and not atrous._native_dilated_gradient():
        # the premise of kseg.layers.atrous: here (oneDNN off, no GPU) TensorFlow's own gradient fails
        with pytest.raises(tf.errors.InvalidArgumentError, match="dilation rates larger than 1"):
            _value_and_gradients(lambda x, k: tf.nn.conv2d(x, k, 1, "VALID", dilations=rate), x, kernel, upstream)
        native = False  # and kseg's takes the space-to-batch backward
    monkeypatch.setattr(atrous, "_native_dilated_gradient", lambda: native)
    ours = _value_and_gradients(lambda x, k: atrous_conv2d(x, k, rate), x, kernel, upstream)
    reference = _value_and_gradients(lambda x, k: tf.nn.convolution(x, k, padding="VALID", dilations=rate), x, kernel, upstream)
    for got, want in zip(ours, reference):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-4)
    # the forward is TensorFlow's own dilated Conv2D op, whichever backward runs
    np.testing.assert_array_equal(ours[0], tf.nn.conv2d(x, kernel, 1, "VALID", dilations=rate))


def test_the_written_backward_in_a_traced_function_with_unknown_sizes(monkeypatch):
    monkeypatch.setattr(atrous, "_native_dilated_gradient", lambda: False)
    kernel = tf.constant(np.random.default_rng(0).normal(size=(3, 3, 2, 4)), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 2])])
    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(atrous_conv2d(x, kernel, 4) ** 2)
        return tape.gradient(loss, x)

    for shape in [(1, 11, 14, 2), (3, 9, 9, 2)]:
        x = tf.constant(np.random.default_rng(1).normal(size=shape), tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.nn.convolution(x, kernel, padding="VALID", dilations=4) ** 2)
        want = tape.gradient(loss, x)
        np.testing.assert_allclose(gradient(x), want, rtol=1e-5, atol=1e-4)
