"""Memory of reading an image's size from its header in the graph (`kseg.serving.graph.
encoded_image_shape`: the serving graph's pixel cap and request canvas, the records' size
check), on one large JPEG, against the same header walk over the file widened to int64 (how
kseg read it until 2026-12-06) and libjpeg's own header reader (`tf.image.extract_jpeg_shape`,
which names no image on failure), each in its own child process, in the same run.

One JSON line per case: the file's size in MB, the call's extra peak RSS in MB (the child's
resident memory sampled every 0.2 ms during the call, less before it; the function traced on
a small JPEG first) and `ratio` = that extra / the widened walk's.

    python benchmarks/header_memory.py
"""

import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CASES = ("kseg", "widened", "libjpeg")
HEIGHT, WIDTH = 4000, 6000  # 24 MP of noise at quality 95: a JPEG of ~25 MB, a camera's largest


def _function(case):
    import tensorflow as tf

    from kseg.serving.graph import encoded_image_shape
    from kseg.serving.jpeg import _start_of_frame

    def widened(data):
        raw = tf.cast(tf.io.decode_raw(data, tf.uint8), tf.int64)  # 8 bytes a byte of the file
        at = _start_of_frame(raw)
        return tf.stack([256 * raw[at + 5] + raw[at + 6], 256 * raw[at + 7] + raw[at + 8]])

    calls = {
        "kseg": lambda data: encoded_image_shape(data, 0),
        "widened": widened,
        "libjpeg": tf.image.extract_jpeg_shape,
    }
    return tf.function(calls[case], input_signature=[tf.TensorSpec([], tf.string)])


def _resident_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_during(call):
    """`call()`'s result and the largest resident MB seen while it ran, less the MB before."""
    before, peak, done = _resident_mb(), [0.0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _resident_mb())
            time.sleep(0.0002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = call()
    finally:
        done.set()
        sampler.join()
    return result, max(peak[0], _resident_mb()) - before


def _child(case, path):
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    shape = _function(case)
    small = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(small, "JPEG")
    shape(tf.constant(small.getvalue()))  # traced and run once
    with open(path, "rb") as f:
        data = tf.constant(f.read())
    hw, extra = _peak_during(lambda: [int(v) for v in shape(data).numpy()])
    print(json.dumps({"shape": hw, "extra_mb": extra}))


def _large_jpeg(path):
    import numpy as np
    from PIL import Image

    noise = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), np.uint8)
    Image.fromarray(noise).save(path, "JPEG", quality=95)


def main():
    from benchmarks.onednn import _cpu_model

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "large.jpg")
        _large_jpeg(path)
        size_mb = os.path.getsize(path) / 1e6
        results = {}
        for case in CASES:
            done = subprocess.run([sys.executable, __file__, "--child", case, path], capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"{case}: {done.stderr.strip().splitlines()[-1]}")
            results[case] = json.loads(done.stdout.strip().splitlines()[-1])
    for case in CASES:
        print(json.dumps({
            "benchmark": "header_memory",
            "case": case,
            "file_mb": round(size_mb, 1),
            "shape": results[case]["shape"],
            "extra_peak_rss_mb": round(results[case]["extra_mb"], 1),
            "ratio": round(results[case]["extra_mb"] / max(results["widened"]["extra_mb"], 1e-9), 3),
            "cpu": _cpu_model(),
            "python": platform.python_version(),
        }), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
    else:
        main()
