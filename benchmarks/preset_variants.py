"""The built-in preset's training step alone against the variants weighed when choosing it
(output stride, crop, batch), float32, on the kernels this process loaded, and against the
former preset (half width, decoder 64; until 2026-12-05), whose step the issue-34 report timed on
a 2-core AVX2-only AMD EPYC (0.54-0.61 s in the run): its ratio here scales that figure to today's preset.

One JSON line per variant: CPU model, oneDNN setting, seconds per optimizer step (median
of the timed steps) and the ratio to the preset measured in the same run.

    TF_ENABLE_ONEDNN_OPTS=0 python benchmarks/preset_variants.py   # Eigen, as on AVX2-only CPUs
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.onednn import _cpu_model, _median_seconds  # noqa: E402

VARIANTS = {  # name -> (config overrides, crop side, batch)
    "preset": ([], 96, 8),
    "output_stride_32": (["model.output_stride=32"], 96, 8),
    "crop_80": ([], 80, 8),
    "crop_112_batch_6": ([], 112, 6),
    "former_preset": (
        ['model.options={"decoder_filters": 64, "backbone_options": {"blocks": [2, 2, 2, 2], "stage_filters": [32, 64, 128, 256]}}'],
        96, 8,
    ),
}


def step_seconds(overrides, side, batch):
    import keras
    import numpy as np
    import tensorflow as tf

    from kseg.training.config import load_config
    from kseg.training.tasks import get_task

    keras.utils.set_random_seed(0)
    task = get_task(load_config(overrides=["train.precision=float32"] + overrides))
    model = task.build_model()
    task.compile(model, task.build_optimizers(steps=100))
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(0, 255, (batch, side, side, 3)), tf.float32)
    labels = tf.constant(rng.integers(0, 5, (batch, side, side)), tf.int32)
    step = tf.function(lambda: model.train_step((images, labels)))
    return _median_seconds(step, warmup=3, repeats=12)


def main():
    from kseg.platform import onednn_enabled

    found = {name: step_seconds(*spec) for name, spec in VARIANTS.items()}
    for name, (overrides, side, batch) in VARIANTS.items():
        print(json.dumps({
            "case": name, "cpu": _cpu_model(), "onednn": onednn_enabled(), "date": time.strftime("%Y-%m-%d"),
            "input": f"{batch}x{side}x{side}", "overrides": overrides, "seconds_per_step": round(found[name], 4),
            "ratio_to_preset": round(found[name] / found["preset"], 3),
        }), flush=True)
    os._exit(0)  # TensorFlow's threads can hold the interpreter's exit


if __name__ == "__main__":
    main()
