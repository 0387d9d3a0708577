"""The first run as a new user meets it: `python -m training.fit` with no arguments, from an
empty data cache (the built-in dataset's generation counts), timed from the command's start
to its end, with the validation mIoU it reaches. `--heldout` trains the same preset on the
held-out set of benchmarks/heldout_dataset.py instead (its generation not counted).

One JSON line: CPU model, oneDNN setting, date, wall seconds, val mIoU, steps.

    python benchmarks/first_run.py                      # this CPU as training.fit sets it up
    TF_ENABLE_ONEDNN_OPTS=0 python benchmarks/first_run.py   # Eigen kernels, TensorFlow's default on AVX2-only CPUs
    python benchmarks/first_run.py --heldout /tmp/heldout
    python benchmarks/first_run.py --set train.steps=1650    # a candidate preset
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.heldout_dataset import CLASSES as HELDOUT_CLASSES  # noqa: E402
from benchmarks.heldout_dataset import write as write_heldout  # noqa: E402
from benchmarks.onednn import _cpu_model  # noqa: E402


def _onednn_setting(stdout):
    value = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    if value is None and "oneDNN on (" in stdout:  # training.fit's choice (kseg.platform.prefer_onednn_for_training)
        return "on (training.fit's choice)"
    return {"0": "off", "1": "on"}.get(value, "tensorflow default")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--heldout", metavar="DIR", help="train on the held-out set (generated into DIR if missing)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config override, as in training.fit")
    args = parser.parse_args(argv)
    settings = list(args.set)
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ, KSEG_DATA_DIR=os.path.join(scratch, "cache"))
        if args.heldout:
            if not os.path.isdir(os.path.join(args.heldout, "ImageSets")):
                write_heldout(args.heldout)
            names = ",".join(HELDOUT_CLASSES)
            settings += ["data.format=voc", f"data.root={args.heldout}", f"data.class_names=[{names}]"]
        command = [sys.executable, "-m", "training.fit", "--run-dir", os.path.join(scratch, "run")]
        for item in settings:
            command += ["--set", item]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode:
            sys.exit(f"training.fit failed:\n{done.stderr[-3000:]}")
        with open(os.path.join(scratch, "run", "result.json")) as f:
            result = json.load(f)
    print(json.dumps({
        "case": "heldout" if args.heldout else "first_run", "cpu": _cpu_model(), "onednn": _onednn_setting(done.stdout),
        "date": time.strftime("%Y-%m-%d"), "wall_seconds": round(seconds, 1), "val_mean_iou": round(result["val_mean_iou"], 4),
        "steps": result["steps"], "settings": args.set,
    }))


if __name__ == "__main__":
    main()
