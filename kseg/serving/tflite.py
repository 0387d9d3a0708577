"""TFLite (LiteRT) export of a kseg segmenter, checked in the TFLite interpreter.

The TFLite graph has a fixed input (1, H, W, 3) float32 RGB in [0, 255] (`size`): the
models' resizes and paddings depend on the input size, which TFLite's builtin ops need
static. Outputs `logits` (1, H, W, C) float32 and `labels` (1, H, W) int32. Only TFLite's
builtin ops are allowed (no Flex delegate, which most phones and microcontrollers lack):
an op the converter cannot lower is named in the `TFLiteExportError`.

Quantisation (`QUANTIZATIONS`): `none` (float32), `float16` (weights stored in float16,
computed in float32 on a CPU) and `dynamic_int8` (weights int8, activations float).
"""

import os
import re
import warnings

import numpy as np
import tensorflow as tf

from kseg.atomic import atomic_path, write_json
from kseg.constants import MIN_LABEL_AGREEMENT  # float exports; int8 is reported, not required
from kseg.serving.labels import tflite_labels_path
from kseg.serving.onnx import sample_images

QUANTIZATIONS = ("none", "float16", "dynamic_int8")


class TFLiteExportError(RuntimeError):
    """The converter could not lower the model to TFLite builtin ops (they are named)."""


def tflite_function(model, size):
    """A concrete function (1, H, W, 3) float32 -> {"logits", "labels"} of `model` at `size` = (H, W)."""
    height, width = (int(v) for v in size)

    @tf.function(input_signature=[tf.TensorSpec((1, height, width, 3), tf.float32, name="images")])
    def segment(images):
        logits = tf.cast(model(images, training=False), tf.float32)
        return {"logits": logits, "labels": tf.argmax(logits, axis=-1, output_type=tf.int32)}

    return segment.get_concrete_function()


def _blocking_ops(message):
    ops = sorted(set(re.findall(r"'?(tf\.[A-Za-z0-9_]+)'?", message)))
    return ", ".join(ops) if ops else message.strip().splitlines()[-1]


def convert(function, quantize="none"):
    """The TFLite flatbuffer (bytes) of concrete `function`; builtin ops only."""
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be one of {QUANTIZATIONS}. Received: {quantize!r}")
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    try:
        return converter.convert()
    except Exception as error:  # the converter raises ConverterError and others with the op list in the text
        raise TFLiteExportError(f"TFLite cannot convert these ops to builtins: {_blocking_ops(str(error))}") from error


def _interpreter(flatbuffer):
    """LiteRT's interpreter (`pip install ai-edge-litert`) if installed, else TensorFlow's
    (deprecated in favour of LiteRT, same runtime)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return tf.lite.Interpreter(model_content=flatbuffer)
    return Interpreter(model_content=flatbuffer)


def verify(flatbuffer, function, size, count=4):
    """Run the TFLite model in the interpreter and `function` in TensorFlow on `count` built-in
    test pictures (textured objects on real photos) of `size`; returns label agreement and
    the largest logits difference."""
    interpreter = _interpreter(flatbuffer)
    interpreter.allocate_tensors()
    (image_input,) = interpreter.get_input_details()
    # outputs told apart by type: a concrete function's conversion keeps no signature names
    outputs = {"labels" if o["dtype"] == np.int32 else "logits": o["index"] for o in interpreter.get_output_details()}
    equal = total = 0
    logits_diff = 0.0
    for images in sample_images([(count, *size)]):
        for image in images:
            batch = image[None].astype(np.float32)
            interpreter.set_tensor(image_input["index"], batch)
            interpreter.invoke()
            got = {name: interpreter.get_tensor(index) for name, index in outputs.items()}
            want = {k: v.numpy() for k, v in function(tf.constant(batch)).items()}
            logits_diff = max(logits_diff, float(np.abs(got["logits"] - want["logits"]).max()))
            equal += int((got["labels"] == want["labels"]).sum())
            total += want["labels"].size
    return {"label_agreement": equal / total, "logits_max_abs_diff": logits_diff}


def export_tflite(model, path, size, quantize="none", check=True, labels=None):
    """Write `model` at input `size` (H, W) to `path` as TFLite (atomically); with `check`,
    compare it with TensorFlow in the interpreter. Returns a summary dict; `ok` is False
    when a float export's labels agree on fewer than 99.9% of pixels. `labels` (class
    names and colours, `kseg.serving.labels`) are written beside it as
    `<stem>.labels.json`."""
    function = tflite_function(model, size)
    flatbuffer = convert(function, quantize)
    result = {"path": os.path.abspath(path), "size": list(size), "quantize": quantize, "bytes": len(flatbuffer)}
    if check:
        verification = verify(flatbuffer, function, size)
        verification["ok"] = quantize == "dynamic_int8" or verification["label_agreement"] >= MIN_LABEL_AGREEMENT
        result["verification"] = verification
        if not verification["ok"]:
            return result  # nothing written: the file would not do what TensorFlow does
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(flatbuffer)
    if labels is not None:
        result["labels"] = write_json(tflite_labels_path(path), labels)
    return result
