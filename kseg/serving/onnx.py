"""ONNX export through tf2onnx from a `tf.function` with an explicit input signature
(tf2onnx's `from_keras` does not handle Keras 3 models), verified with ONNX Runtime."""

import json

import numpy as np
import tensorflow as tf

from kseg.atomic import atomic_path
from kseg.constants import MIN_LABEL_AGREEMENT
from kseg.layers.crf import build_crf_for
from kseg.serving.graph import Segmenter, make_crf
from kseg.serving.labels import ONNX_LABELS_KEY

DEFAULT_OPSET = 17
LOGITS_TOLERANCE = 1e-4


class OnnxExportError(Exception):
    """Conversion failed; the message names the TF ops tf2onnx could not convert."""


def onnx_function(model, crf=None, crf_params=None):
    """The function that is converted: float32 `images` `(B, H, W, 3)` in [0, 255] ->
    `logits` float32 `(B, H, W, C)` (the model's output), `probabilities` float32
    `(B, H, W, C)` (softmax, or the CRF's output) and `labels` int32 `(B, H, W)`.
    Batch, height and width are dynamic."""
    crf_layer = make_crf(crf, onnx=True, **(crf_params or {}))
    build_crf_for(crf_layer, model)  # else its weights, made inside the trace, make it trace twice
    segmenter = Segmenter(model, crf_layer)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
    def segment(images):
        logits = tf.cast(model(images, training=False), tf.float32)
        probabilities, labels = segmenter(images)
        return {"logits": logits, "probabilities": probabilities, "labels": labels}

    return segment


# Why the TF ops kseg can produce fail to convert, and what to do instead.
KNOWN_UNSUPPORTED = {
    "SparseTensorDenseMatMul": "DenseCRF(implementation='sparse_matmul'); use implementation='gather'",
    "ScaleAndTranslate": "tf.image.resize(..., antialias=True); resize without antialiasing",
}


def unconverted_ops(model_proto):
    """Op types left in a tf2onnx graph that are not ONNX operators (tf2onnx logs an
    unsupported op and keeps the TF node, producing a file ONNX Runtime refuses), the bodies
    of loops and conditionals included."""
    import onnx

    def nodes(graph):
        for node in graph.node:
            yield node
            for attribute in node.attribute:
                for subgraph in [attribute.g] if attribute.HasField("g") else list(attribute.graphs):
                    yield from nodes(subgraph)

    return sorted({n.op_type for n in nodes(model_proto.graph) if not onnx.defs.has(n.op_type, n.domain or "")})


def _explain(ops):
    return "; ".join(f"{op} ({KNOWN_UNSUPPORTED[op]})" if op in KNOWN_UNSUPPORTED else op for op in ops)


def convert(function, path, opset=DEFAULT_OPSET, metadata=None):
    """Convert `function` to `path` (written atomically, see `kseg.atomic`), with the
    `metadata` dict {key: str} in the file's `metadata_props`."""
    import tf2onnx

    with atomic_path(path) as tmp:
        try:
            proto, _ = tf2onnx.convert.from_function(function, input_signature=function.input_signature, opset=opset)
        except Exception as error:  # tf2onnx raises plain Exceptions
            raise OnnxExportError(f"tf2onnx (opset {opset}) could not convert the model: {error}") from error
        missing = unconverted_ops(proto)
        if missing:
            raise OnnxExportError(
                f"tf2onnx (opset {opset}) has no ONNX conversion for these TF ops: {_explain(missing)}; "
                f"nothing was written to {path}"
            )
        for key, value in (metadata or {}).items():
            proto.metadata_props.add(key=key, value=value)
        with open(tmp, "wb") as f:
            f.write(proto.SerializeToString())
    return path


def sample_images(sizes=((2, 96, 128), (1, 75, 101))):
    """Deterministic textured test images from the built-in dataset's generator, one float32
    batch `(B, H, W, 3)` per `(B, H, W)` in `sizes`."""
    from kseg.data.builtin import make_example

    batches = []
    for b, h, w in sizes:
        side = max(h, w)
        batches.append(np.stack([make_example(i, size=side)[0][:h, :w] for i in range(b)]).astype(np.float32))
    return batches


def verify(path, function, batches=None):
    """Run `path` in ONNX Runtime (CPU) and `function` in TF on the same batches.

    Returns:
        dict with `logits_max_abs_diff`, `probabilities_max_abs_diff`, `label_agreement`
        (fraction of equal pixels) over all batches, `logits_max_abs`, `logits_tolerance` and
        `ok` (the parity the export promises: logits within 1e-4, relative when |logits| > 1,
        and labels equal on >= 99.9% of pixels).
    """
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    logits_diff = probs_diff = scale = 0.0
    equal = total = 0
    for images in batches or sample_images():
        got = dict(zip(names, session.run(None, {"images": images})))
        want = {k: v.numpy() for k, v in function(tf.constant(images)).items()}
        logits_diff = max(logits_diff, float(np.abs(got["logits"] - want["logits"]).max()))
        scale = max(scale, float(np.abs(want["logits"]).max()))
        probs_diff = max(probs_diff, float(np.abs(got["probabilities"] - want["probabilities"]).max()))
        equal += int((got["labels"] == want["labels"]).sum())
        total += want["labels"].size
    agreement = equal / total
    # 1e-4 absolute for logits of order 1; float32 cannot do better than relative 1e-4 on
    # the large logits of a barely trained net (|logits| ~ 1e4 after a few steps).
    tolerance = LOGITS_TOLERANCE * max(1.0, scale)
    return {
        "logits_max_abs_diff": logits_diff,
        "logits_max_abs": scale,
        "logits_tolerance": tolerance,
        "probabilities_max_abs_diff": probs_diff,
        "label_agreement": agreement,
        "ok": logits_diff <= tolerance and agreement >= MIN_LABEL_AGREEMENT,
    }


def export_onnx(model, path, opset=DEFAULT_OPSET, crf=None, crf_params=None, check=True, labels=None):
    """Convert a kseg model (optionally followed by a CRF) to ONNX at `path`.

    The graph takes `images` float32 `(B, H, W, 3)` RGB in [0, 255] with dynamic batch and
    spatial size and returns `logits`, `probabilities` and `labels` (see `onnx_function`).
    With `check`, the file is run in ONNX Runtime against TF on built-in test images.
    `labels` (class names and colours, `kseg.serving.labels`) go into `metadata_props`.

    Returns:
        dict: `path`, `opset` and, with `check`, the `verify` figures.
    """
    function = onnx_function(model, crf=crf, crf_params=crf_params)
    metadata = None if labels is None else {ONNX_LABELS_KEY: json.dumps(labels)}
    convert(function, path, opset=opset, metadata=metadata)
    result = {"path": path, "opset": opset}
    if check:
        result["verification"] = verify(path, function)
    return result
