"""A large photo through the exported SavedModel, with and without the serving size policy.

Exports one model twice (`max_side=2048`, the default, and no limit), then, each in a
fresh child process so peak memory is its own, loads the export with `tf.saved_model.load`
and segments one JPEG of the given size (a real photo, matplotlib's grace_hopper.jpg,
resized). One JSON line per case: seconds for the request (after loading), the child's
peak RSS, and both as ratios to the unlimited export measured in the same run. A last line
checks the pixel cap: a header claiming more than 50 MP is refused, and how fast.

    python benchmarks/serving_size_policy.py                      # PAN-R50 (the default run's), 6000x4000
    python benchmarks/serving_size_policy.py --size 4000,3000 --model pan_r101
"""

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODELS = {
    "pan_r50": lambda kseg: kseg.models.PAN(num_classes=5, backbone="resnet50", decoder_filters=64),
    "pan_r101": lambda kseg: kseg.models.PAN(num_classes=21, backbone="resnet101"),
}


def photo_bytes(height, width):
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        image = Image.open(f).convert("RGB").resize((width, height), Image.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def child(export, image_path):
    """Runs in a fresh process: one request, its time and this process's peak RSS."""
    import tensorflow as tf

    serve = tf.saved_model.load(export).signatures["serving_default"]
    with open(image_path, "rb") as f:
        data = f.read()
    start = time.perf_counter()
    try:
        out = serve(images=tf.constant([data]))
        shape, error = list(out["labels"].shape), None
    except tf.errors.InvalidArgumentError as failure:
        shape, error = None, str(failure).split("assertion failed: [", 1)[-1].split("]\n", 1)[0]
    seconds = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({"seconds": seconds, "peak_rss_gb": peak_gb, "labels_shape": shape, "error": error}))


def run_child(export, image_path):
    out = subprocess.run(
        [sys.executable, __file__, "--child", export, image_path], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="pan_r50")
    parser.add_argument("--size", default="6000,4000", help="W,H of the photo")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)

    import kseg
    from kseg.serving import export_saved_model

    width, height = (int(v) for v in args.size.split(","))
    folder = tempfile.mkdtemp()
    image_path = os.path.join(folder, "photo.jpg")
    with open(image_path, "wb") as f:
        f.write(photo_bytes(height, width))
    model = MODELS[args.model](kseg)
    exports = {
        "max_side=2048": export_saved_model(model, folder, "policy", version=1),
        "no limit": export_saved_model(model, folder, "unlimited", version=1, max_side=None, max_pixels=None),
    }
    results = {case: run_child(path, image_path) for case, path in exports.items()}
    reference = results["no limit"]
    for case, result in results.items():
        print(json.dumps({
            "benchmark": "serving_size_policy", "model": args.model, "image": f"{width}x{height}", "case": case,
            **result,
            "seconds_ratio_to_no_limit": result["seconds"] / reference["seconds"],
            "peak_rss_ratio_to_no_limit": result["peak_rss_gb"] / reference["peak_rss_gb"],
        }), flush=True)
    from PIL import Image

    huge = os.path.join(folder, "huge.png")  # a header claiming 10000x6000: refused before decoding
    Image.new("RGB", (10000, 6000)).save(huge)
    print(json.dumps({"benchmark": "serving_size_policy", "model": args.model, "image": "10000x6000 png",
                      "case": "max_pixels=50000000", **run_child(exports["max_side=2048"], huge)}), flush=True)


if __name__ == "__main__":
    main()
