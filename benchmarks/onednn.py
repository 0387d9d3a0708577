"""oneDNN on vs off (TensorFlow's Eigen CPU kernels) for the first run's training step, a
forward pass and one atrous (ASPP) layer's training step, each setting in its own process
(TensorFlow reads `TF_ENABLE_ONEDNN_OPTS` when it loads).

One JSON line per case: seconds per call with oneDNN off and on (median of the timed
calls) and `speedup_onednn` = off / on. `--isa AVX2` caps oneDNN at AVX2
(`ONEDNN_MAX_CPU_ISA`), to see on an AVX-512 machine what an AVX2-only CPU gets from it;
Eigen in TensorFlow's wheels uses AVX at most whatever the CPU has.

    python benchmarks/onednn.py                # on this CPU's full ISA
    python benchmarks/onednn.py --isa AVX2     # oneDNN as on an AVX2-only CPU
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

CASES = ("preset_train_step", "preset_forward", "aspp_train_step")


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), platform.processor())
    except OSError:
        return platform.processor()


def _median_seconds(call, warmup=3, repeats=15):
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def measure():
    """Child: {case: seconds} on the kernels this process loaded."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf

    import kseg
    from kseg.platform import onednn_enabled
    from kseg.training.config import load_config
    from kseg.training.tasks import get_task

    keras.utils.set_random_seed(0)
    task = get_task(load_config(overrides=["train.precision=float32"]))  # the first run's preset
    model = task.build_model()
    task.compile(model, task.build_optimizers(steps=100))
    batch, side = task.config["data"]["batch_size"], task.config["data"]["crop"][0]
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(0, 255, (batch, side, side, 3)), tf.float32)
    labels = tf.constant(rng.integers(0, 5, (batch, side, side)), tf.int32)
    step = tf.function(lambda: model.train_step((images, labels)))
    forward = tf.function(lambda: model(images, training=False))

    aspp = keras.Sequential([keras.Input((41, 41, 256)), kseg.layers.ASPP(num_classes=21, rates=(6, 12, 18, 24))])
    aspp.compile(optimizer="sgd", loss=kseg.losses.MaskedSparseCategoricalCrossentropy())
    features = tf.constant(rng.normal(size=(2, 41, 41, 256)), tf.float32)
    targets = tf.constant(rng.integers(0, 21, (2, 41, 41)), tf.int32)
    aspp_step = tf.function(lambda: aspp.train_step((features, targets)))
    seconds = {
        "preset_train_step": _median_seconds(step),
        "preset_forward": _median_seconds(forward),
        "aspp_train_step": _median_seconds(aspp_step),
    }
    return {"onednn": onednn_enabled(), "seconds": seconds, "batch": batch, "side": side}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--isa", help="ONEDNN_MAX_CPU_ISA for the oneDNN process, e.g. AVX2")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure()))
        return
    found = {}
    for setting in ("0", "1"):
        env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=setting, TF_CPP_MIN_LOG_LEVEL="2")
        if args.isa and setting == "1":
            env["ONEDNN_MAX_CPU_ISA"] = args.isa
        out = subprocess.run([sys.executable, __file__, "--child"], env=env, capture_output=True, text=True, check=True)
        found[setting] = json.loads(out.stdout.strip().splitlines()[-1])
    for case in CASES:
        off, on = found["0"]["seconds"][case], found["1"]["seconds"][case]
        print(json.dumps({
            "case": case, "cpu": _cpu_model(), "onednn_isa": args.isa or "native", "date": time.strftime("%Y-%m-%d"),
            "seconds_onednn_off": round(off, 4), "seconds_onednn_on": round(on, 4), "speedup_onednn": round(off / on, 2),
            "input": f"{found['0']['batch']}x{found['0']['side']}x{found['0']['side']}" if case.startswith("preset") else "2x41x41x256",
        }))


if __name__ == "__main__":
    main()
