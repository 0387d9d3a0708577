"""Memory and time of the ONNX conversion (tf2onnx + the ONNX Runtime check) of a full-size
model, in a child process as `training.fit` runs it, against the size of the model's weights
measured in the same run.

One JSON line: weights in MB, the conversion's peak RSS in GB (the child's ru_maxrss), their
ratio, seconds, and whether the ONNX file matched TensorFlow.

    python benchmarks/onnx_export_memory.py                      # RelationNet-19 (110M parameters)
    python benchmarks/onnx_export_memory.py --model pan_r101
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

import kseg  # noqa: E402

MODELS = {
    "relationnet": lambda: kseg.models.RelationNet(num_classes=19),
    "pan_r101": lambda: kseg.models.PAN(num_classes=21, backbone="resnet101"),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="relationnet")
    args = parser.parse_args()
    model = MODELS[args.model]()
    weights_mb = sum(int(tf.size(w)) * w.dtype.size if hasattr(w.dtype, "size") else int(tf.size(w)) * 4
                     for w in model.weights) / 1e6
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        del model
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "kseg.serving.onnx_cli", "--model", path, "--out", os.path.join(folder, "m.onnx")],
            capture_output=True, text=True,
        )
        seconds = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6  # KiB on Linux
    result = json.loads(done.stdout) if done.returncode in (0, 1) and done.stdout.strip() else {}
    print(json.dumps({
        "benchmark": "onnx_export_memory",
        "model": args.model,
        "weights_mb": round(weights_mb, 1),
        "conversion_peak_rss_gb": round(peak_gb, 2),
        "peak_over_weights": round(peak_gb * 1e3 / weights_mb, 1),
        "seconds": round(seconds, 1),
        "exit_code": done.returncode,
        "parity_ok": result.get("verification", {}).get("ok"),
        "logits_max_abs_diff": result.get("verification", {}).get("logits_max_abs_diff"),
        "cpu": platform.processor() or platform.machine(),
        "threads": os.cpu_count(),
        "tensorflow": tf.__version__,
    }), flush=True)


if __name__ == "__main__":
    main()
