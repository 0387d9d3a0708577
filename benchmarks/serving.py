"""Serving latency per image: in-process Keras vs the exported SavedModel (bytes in; float32
and `--precision bfloat16`) vs ONNX Runtime, for PAN-R101 at 512x512 on this machine's CPU.

One JSON line per (route, batch size) with seconds per image and the ratio to the Keras
model measured in the same run (> 1 means slower than Keras); the bfloat16 SavedModel's
line also has `speedup_over_float32_saved_model` and the share of pixels whose labels
equal the float32 export's. The SavedModel routes include JPEG decoding and the argmax
inside the graph, as TF Serving would run it; the Keras and ONNX routes take decoded
float images.

    python benchmarks/serving.py                         # PAN-R101, batch 1 and 8
    python benchmarks/serving.py --model deeplabv2 --batch-sizes 1 --repeats 2
"""

import argparse
import io
import json
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

import kseg  # noqa: E402
from kseg.data.builtin import make_example  # noqa: E402
from kseg.models.loading import with_precision  # noqa: E402
from kseg.serving import export_saved_model  # noqa: E402
from kseg.serving.onnx_cli import export_in_subprocess  # noqa: E402

MODELS = {
    "pan": lambda: kseg.models.PAN(num_classes=21, backbone="resnet101"),
    "deeplabv2": lambda: kseg.models.DeepLabV2(num_classes=21, backbone="resnet101", aspp="L"),
}


def best_time(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def jpeg_batch(batch, size):
    images = np.stack([make_example(i, size=size)[0] for i in range(batch)])
    encoded = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=90)
        encoded.append(buffer.getvalue())
    decoded = np.stack([tf.io.decode_jpeg(b, channels=3).numpy() for b in encoded]).astype(np.float32)
    return encoded, decoded


def main():
    import onnxruntime

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="pan")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    model = MODELS[args.model]()
    keras_call = tf.function(lambda x: model(x, training=False))
    with tempfile.TemporaryDirectory() as tmp:
        saved = export_saved_model(model, tmp, args.model, include_probabilities=False)
        serve = tf.saved_model.load(saved).signatures["serving_default"]
        saved_bf16 = export_saved_model(with_precision(model, "bfloat16"), tmp, f"{args.model}_bf16", include_probabilities=False)
        serve_bf16 = tf.saved_model.load(saved_bf16).signatures["serving_default"]
        # tf2onnx needs many times the weights in memory: convert in a child process, as training.fit does
        keras_path = os.path.join(tmp, "model.keras")
        model.save(keras_path)
        onnx_path = export_in_subprocess(keras_path, os.path.join(tmp, "model.onnx"))["path"]
        session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        for batch in args.batch_sizes:
            encoded, decoded = jpeg_batch(batch, args.size)
            routes = {
                "keras": lambda: keras_call(tf.constant(decoded)).numpy(),
                "saved_model_bytes": lambda: serve(images=tf.constant(encoded))["labels"].numpy(),
                "saved_model_bytes_bfloat16": lambda: serve_bf16(images=tf.constant(encoded))["labels"].numpy(),
                "onnxruntime": lambda: session.run(["labels"], {"images": decoded}),
            }
            seconds = {name: best_time(fn, args.repeats) / batch for name, fn in routes.items()}
            agreement = float(np.mean(routes["saved_model_bytes"]() == routes["saved_model_bytes_bfloat16"]()))
            for name, per_image in seconds.items():
                extra = {} if name != "saved_model_bytes_bfloat16" else {
                    "speedup_over_float32_saved_model": round(seconds["saved_model_bytes"] / per_image, 3),
                    "label_agreement_with_float32": round(agreement, 5),
                }
                print(json.dumps({
                    "benchmark": "serving",
                    "model": f"{args.model}_r101",
                    "route": name,
                    "batch": batch,
                    "size": args.size,
                    "seconds_per_image": round(per_image, 4),
                    "keras_seconds_per_image": round(seconds["keras"], 4),
                    "ratio_to_keras": round(per_image / seconds["keras"], 3),
                    "cpu_count": os.cpu_count(),
                    "machine": platform.machine(),
                    "tensorflow": tf.__version__,
                    "onnxruntime": onnxruntime.__version__,
                    **extra,
                }), flush=True)


if __name__ == "__main__":
    main()
