"""The first `model.fit` call of the paper recipes whose models have several outputs, as Keras
runs it (the compiled state built inside the first trace, so `tf.function` traces the training
step twice) and as kseg's training loop runs it (built first, `kseg.training.first_trace`).

Each case is a fresh child process: the recipe's full-size model (random weights), compiled by
its task, one training step on one 64x64 image (so the time is mostly tracing). One JSON line
per recipe: CPU model, date, seconds of each way (the build included in kseg's), and the ratio.

    python benchmarks/first_trace.py
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.onednn import _cpu_model  # noqa: E402

RECIPES = {  # recipe -> why it has several outputs
    "relationnet_cityscapes": "the similarity subnet's output beside the logits",
    "deeplab_v2_voc": "MSC: one output a scale and their max fusion",
}


def first_fit_seconds(recipe, build_first):
    """Seconds of the first one-step `model.fit` of `recipe`'s model (and of the build before it)."""
    import numpy as np
    import tensorflow as tf

    from kseg.training.config import load_config
    from kseg.training.first_trace import build_before_first_trace
    from kseg.training.tasks import get_task

    config = load_config(os.path.join(ROOT, "training", "configs", f"{recipe}.yaml"), overrides=[
        "data.format=voc", "data.root=/unused", "model.backbone_weights=null", "train.precision=float32",
    ])
    task = get_task(config)
    model = task.build_model()
    task.compile(model, task.build_optimizers(steps=10))
    rng = np.random.default_rng(0)
    batch = (rng.uniform(0, 255, (1, 64, 64, 3)).astype("float32"),
             rng.integers(0, config.data.num_classes, (1, 64, 64)).astype("int32"))
    stream = task.training_targets(tf.data.Dataset.from_tensors(batch), model)
    start = time.perf_counter()
    if build_first:
        assert build_before_first_trace(model, stream)
    model.fit(stream, verbose=0)
    return time.perf_counter() - start


def _child(recipe, build_first):
    command = [sys.executable, os.path.abspath(__file__), "--child", recipe] + (["--build-first"] if build_first else [])
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", choices=sorted(RECIPES), help=argparse.SUPPRESS)
    parser.add_argument("--build-first", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(first_fit_seconds(args.child, args.build_first), flush=True)
        return
    for recipe, why in RECIPES.items():
        keras_way, built = _child(recipe, False), _child(recipe, True)
        print(json.dumps({
            "case": recipe, "outputs": why, "cpu": _cpu_model(), "date": time.strftime("%Y-%m-%d"),
            "first_fit_s_keras": round(keras_way, 2), "first_fit_s_built_first": round(built, 2),
            "ratio_built_to_keras": round(built / keras_way, 2),
        }), flush=True)


if __name__ == "__main__":
    main()
