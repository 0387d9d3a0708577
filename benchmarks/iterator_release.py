"""What the end of a `model.fit` call costs with tf.data's autotuning model on (TensorFlow's
default) and off (kseg's pipelines, `kseg.data.pipeline_options`), in a process with one
schedulable CPU (a one-vCPU machine, a container pinned to one core) or more.

The default preset's training steps (float32) on the built-in training stream, in one
child process per case pinned to the first `--cpus` CPUs, timed from the end of the last
step to the end of `model.fit`: freeing the stream's iterator waits for the autotuning
model's thread. One JSON line per case: CPU model, date, CPUs, steps, seconds after the last
step, and for the model-on case its ratio to the model-off one of the same run.

    python benchmarks/iterator_release.py              # one CPU
    python benchmarks/iterator_release.py --cpus 2
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


def seconds_after_the_last_step(autotune_model, steps):
    """Seconds from the end of the last of `steps` training steps to the end of `model.fit`."""
    import keras
    import tensorflow as tf

    import kseg.data as kd
    from kseg.training.config import dataset_spec, load_config
    from kseg.training.tasks import get_task

    config = load_config(overrides=["train.precision=float32"])
    splits = kd.dataset_splits(dataset_spec(config))
    ds = kd.segmentation_dataset(splits.train_pairs, config.data.num_classes, True, batch_size=config.data.batch_size,
                                 crop_size=tuple(config.data.crop), flip=True, seed=0, repeat=True)
    if autotune_model:
        options = tf.data.Options()
        options.autotune.enabled = True
        ds = ds.with_options(options)
    assert ds.options().autotune.enabled is autotune_model
    task = get_task(config)
    model = task.build_model()
    task.compile(model, task.build_optimizers(steps=steps))
    last = []
    stamp = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: last.append(time.perf_counter()))
    model.fit(task.training_targets(ds, model), steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[stamp])
    return time.perf_counter() - last[-1]


def _child(case, steps, cpus):
    command = [sys.executable, os.path.abspath(__file__), "--child", case, "--steps", str(steps), "--cpus", str(cpus)]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps before model.fit returns")
    parser.add_argument("--cpus", type=int, default=1, help="schedulable CPUs of each case's process")
    parser.add_argument("--child", choices=["on", "off"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cpus])  # before TensorFlow counts its CPUs
        print(seconds_after_the_last_step(args.child == "on", args.steps), flush=True)
        return
    from kseg.data import ensure_builtin_dataset

    ensure_builtin_dataset()
    found = {case: _child(case, args.steps, args.cpus) for case in ("off", "on")}
    for case, seconds in found.items():
        line = {"case": f"autotune_model_{case}", "cpu": _cpu_model(), "date": time.strftime("%Y-%m-%d"), "cpus": args.cpus,
                "steps": args.steps, "seconds_after_the_last_step": round(seconds, 3)}
        if case == "on":
            line["ratio_to_off"] = round(seconds / max(found["off"], 1e-3), 1)
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
