"""TFLite export: parity in the interpreter, quantisation, blocking ops named."""


import keras
import numpy as np
import pytest
import tensorflow as tf

import kseg
from kseg.serving.tflite import TFLiteExportError, convert, export_tflite
from tests.tiny import TINY_RESNET


@pytest.fixture(scope="module")
def pan():
    keras.utils.set_random_seed(0)
    return kseg.models.PAN(num_classes=5, backbone="resnet50", decoder_filters=16, backbone_options=TINY_RESNET)


def test_float_export_matches_keras_in_the_interpreter(pan, tmp_path):
    from kseg.serving.labels import labels_metadata, read_labels

    path = str(tmp_path / "pan.tflite")
    labels = labels_metadata(list("abcde"), [[i, 2 * i, 3 * i] for i in range(5)])
    result = export_tflite(pan, path, (64, 80), labels=labels)
    assert result["verification"]["ok"] and result["verification"]["label_agreement"] >= 0.999
    assert result["labels"] == str(tmp_path / "pan.labels.json") and read_labels(path) == labels
    interpreter = tf.lite.Interpreter(model_path=path)
    interpreter.allocate_tensors()
    (image_input,) = interpreter.get_input_details()
    assert list(image_input["shape"]) == [1, 64, 80, 3]
    image = np.random.default_rng(0).uniform(0, 255, (1, 64, 80, 3)).astype(np.float32)
    interpreter.set_tensor(image_input["index"], image)
    interpreter.invoke()
    logits = next(interpreter.get_tensor(o["index"]) for o in interpreter.get_output_details() if o["dtype"] == np.float32)
    np.testing.assert_allclose(logits, pan(image).numpy(), atol=1e-4)


@pytest.mark.parametrize("quantize", ["float16", "dynamic_int8"])
def test_quantised_exports_are_smaller_and_reported(pan, tmp_path, quantize):
    plain = export_tflite(pan, str(tmp_path / "plain.tflite"), (32, 32), check=False)
    small = export_tflite(pan, str(tmp_path / f"{quantize}.tflite"), (32, 32), quantize)
    assert small["bytes"] < plain["bytes"] and 0.9 < small["verification"]["label_agreement"] <= 1.0


def test_ops_tflite_cannot_convert_are_named():
    @tf.function(input_signature=[tf.TensorSpec((1, 4, 4), tf.float32)])
    def singular_values(x):
        return tf.linalg.svd(x, compute_uv=False)

    with pytest.raises(TFLiteExportError, match="Svd"):
        convert(singular_values.get_concrete_function())
