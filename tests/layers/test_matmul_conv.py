"""matmul_conv2d is tf.nn.conv2d "SAME" (values and gradients), ConvBNActivation takes it for
convs reducing over many inputs, and the result exports (SavedModel, ONNX, TFLite)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kseg.layers import ConvBNActivation
from kseg.layers.matmul_conv import MATMUL_CONV_MIN_REDUCTION, matmul_conv2d, uses_matmul_conv


def _value_and_gradients(conv, x, kernel, upstream):
    with tf.GradientTape() as tape:
        tape.watch([x, kernel])
        y = conv(x, kernel)
        loss = tf.reduce_sum(y * upstream)
    return [y, *tape.gradient(loss, [x, kernel])]


@pytest.mark.parametrize(
    "kernel_size, rate, height, width",
    [(7, 1, 6, 5), (3, 2, 7, 9), (4, 1, 5, 6), (2, 3, 8, 4), (5, 1, 2, 3)],  # odd, dilated, even, kernel > image
)
def test_values_and_gradients_match_conv2d(kernel_size, rate, height, width):
    rng = np.random.default_rng(kernel_size * 10 + rate)
    x = tf.constant(rng.normal(size=(2, height, width, 5)), tf.float32)
    kernel = tf.constant(rng.normal(size=(kernel_size, kernel_size, 5, 3)), tf.float32)
    upstream = tf.constant(rng.normal(size=(2, height, width, 3)), tf.float32)
    ours = _value_and_gradients(lambda x, k: matmul_conv2d(x, k, rate), x, kernel, upstream)
    # tf.nn.convolution (space-to-batch when dilated) has gradients without oneDNN too
    reference = _value_and_gradients(lambda x, k: tf.nn.convolution(x, k, 1, "SAME", dilations=rate), x, kernel, upstream)
    for got, want in zip(ours, reference):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-4)


def test_dynamic_spatial_size_and_bfloat16():
    rng = np.random.default_rng(0)
    kernel = tf.constant(rng.normal(size=(3, 3, 4, 2)), tf.float32)
    conv = tf.function(lambda x: matmul_conv2d(x, tf.cast(kernel, x.dtype)), input_signature=[tf.TensorSpec([None, None, None, 4])])
    for shape in [(1, 5, 7, 4), (3, 9, 4, 4)]:
        x = tf.constant(rng.normal(size=shape), tf.float32)
        np.testing.assert_allclose(conv(x).numpy(), tf.nn.conv2d(x, kernel, 1, "SAME").numpy(), atol=1e-4)
    x = tf.constant(rng.normal(size=(1, 6, 6, 4)), tf.float32)
    bf16 = matmul_conv2d(tf.cast(x, tf.bfloat16), tf.cast(kernel, tf.bfloat16))
    assert bf16.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(bf16, tf.float32).numpy(), tf.nn.conv2d(x, kernel, 1, "SAME").numpy(), atol=0.1)


def _wide_block():
    """A 3x3 ConvBNActivation over enough channels to take the matmul form."""
    channels = MATMUL_CONV_MIN_REDUCTION // 9 + 1
    assert uses_matmul_conv(3, channels) and not uses_matmul_conv(3, 1024) and not uses_matmul_conv(1, 10**6)
    inputs = keras.Input((None, None, channels))
    layer = ConvBNActivation(3, 3, batch_norm=True, activation="relu", name="wide")
    model = keras.Model(inputs, layer(inputs))
    x = np.random.default_rng(1).normal(size=(2, 5, 6, channels)).astype("float32")
    model(x, training=True)  # moving statistics away from their initial values
    return model, layer, x


def test_conv_block_takes_the_matmul_form_with_the_same_result():
    model, layer, x = _wide_block()
    graph = tf.function(lambda t: model(t, training=False)).get_concrete_function(tf.TensorSpec(x.shape)).graph
    op_types = {op.type for op in graph.get_operations()}
    assert "MatMul" in op_types and "Conv2D" not in op_types
    bn = layer.bn
    conv = tf.nn.conv2d(x, layer.kernel, 1, "SAME").numpy()
    expected = (conv - bn.moving_mean.numpy()) / np.sqrt(bn.moving_variance.numpy() + bn.epsilon) * bn.gamma.numpy() + bn.beta.numpy()
    np.testing.assert_allclose(model(x, training=False).numpy(), np.maximum(expected, 0), rtol=1e-4, atol=1e-4)


def test_matmul_form_round_trips_and_exports_to_saved_model_and_onnx(tmp_path):
    from tests.layer_case import run_model_saving_test

    model, _, x = _wide_block()
    run_model_saving_test(model, [x], tmp_path)
    want = model(x, training=False).numpy()
    model.export(str(tmp_path / "saved"), format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    np.testing.assert_allclose(loaded.serve(x).numpy(), want, atol=1e-5)

    onnxruntime = pytest.importorskip("onnxruntime")
    from kseg.serving.onnx import convert

    function = tf.function(
        lambda t: {"out": model(t, training=False)}, input_signature=[tf.TensorSpec([None, None, None, x.shape[-1]], name="x")]
    )
    path = str(tmp_path / "wide.onnx")
    convert(function, path)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    for sample in (x, x[:1, :4, :3]):
        (got,) = session.run(None, {"x": sample})
        np.testing.assert_allclose(got, model(sample, training=False).numpy(), atol=1e-4)


def test_matmul_form_exports_to_tflite():
    from kseg.serving.tflite import _interpreter, convert

    model, _, x = _wide_block()
    function = tf.function(lambda t: model(t, training=False), input_signature=[tf.TensorSpec((1, *x.shape[1:]))])
    interpreter = _interpreter(convert(function.get_concrete_function()))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x[:1])
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, model(x[:1], training=False).numpy(), atol=1e-4)
