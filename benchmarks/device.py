"""kseg's main computations on whatever device TensorFlow sees: a GPU if there is one,
else the CPU.

One JSON line per case, each with the device's name: PAN's forward pass and training step
in float32, mixed_bfloat16 and mixed_float16 (a precision the device cannot run is
reported with its error), and DenseCRF and ConvCRF on a real photograph. `--tiny` runs
the same code at toy sizes (the test suite does, so the script does not rot).

    python benchmarks/device.py            # PAN-R101 at 512x512 batch 2; CRFs at 500x375
    python benchmarks/device.py --tiny
"""

import argparse
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import kseg  # noqa: E402
from kseg.losses import MaskedSparseCategoricalCrossentropy  # noqa: E402

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
TINY_BACKBONE = {"blocks": [1, 1, 1, 1], "stage_filters": [8, 16, 16, 16]}
SIZES = {False: dict(side=512, batch=2, crf=(375, 500), repeats=3), True: dict(side=64, batch=2, crf=(48, 64), repeats=2)}


def device_name():
    """("GPU" | "CPU", a readable name)."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return "GPU", details.get("device_name", gpus[0].name)
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or platform.machine()
    return "CPU", f"{model} ({os.cpu_count()} threads)"


def median_seconds(fn, repeats):
    fn()  # tracing and first-call allocation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def pan(tiny, precision):
    keras.config.set_dtype_policy(precision)
    try:
        if tiny:
            return kseg.models.PAN(num_classes=21, backbone="resnet50", decoder_filters=16, backbone_options=TINY_BACKBONE)
        return kseg.models.PAN(num_classes=21, backbone="resnet101")
    finally:
        keras.config.set_dtype_policy("float32")


def model_cases(tiny, sizes):
    rng = np.random.default_rng(0)
    side, batch = sizes["side"], sizes["batch"]
    images = tf.constant(rng.uniform(0, 255, (batch, side, side, 3)), tf.float32)
    labels = tf.constant(rng.integers(0, 21, (batch, side, side)), tf.int32)
    for precision in PRECISIONS:
        row = {"benchmark": "device", "case": "pan_forward_and_train_step", "precision": precision, "input": [batch, side, side, 3]}
        try:
            model = pan(tiny, precision)
            optimizer = keras.optimizers.SGD(1e-3, momentum=0.9)
            if precision == "mixed_float16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            optimizer.build(model.trainable_variables)  # created in the first trace, it would make tf.function trace twice
            loss_fn = MaskedSparseCategoricalCrossentropy()
            # autograph=False: kseg's layers are TF ops already; converting their call trees took a third
            # of the --tiny run (41 -> 27 s, AMD EPYC, 2026-12-06) and printed conversion warnings
            forward = tf.function(lambda: model(images, training=False), autograph=False)

            @tf.function(autograph=False)
            def step():
                with tf.GradientTape() as tape:
                    loss = loss_fn(labels, tf.cast(model(images, training=True), tf.float32))
                    scaled = optimizer.scale_loss(loss)
                optimizer.apply(tape.gradient(scaled, model.trainable_variables), model.trainable_variables)
                return loss

            row["forward_s"] = round(median_seconds(lambda: forward().numpy(), sizes["repeats"]), 4)
            row["train_step_s"] = round(median_seconds(lambda: float(step()), sizes["repeats"]), 4)
            row["loss"] = round(float(step()), 4)
        except Exception as error:  # a precision the device's kernels do not cover
            row["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
        yield row
        keras.backend.clear_session()


def crf_cases(sizes):
    from kseg.data.synthetic import photo
    from kseg.layers import ConvCRF, DenseCRF
    from kseg.testing import realistic_unary

    height, width = sizes["crf"]
    image = photo("chelsea.png")[:height, :width]
    logits = realistic_unary(image.astype(np.uint8), num_classes=21, seed=0)
    inputs = [tf.constant(logits[None], tf.float32), tf.constant(image[None], tf.float32)]
    for name, layer in (("densecrf", DenseCRF(num_iterations=10)), ("convcrf", ConvCRF(num_iterations=5))):
        compiled = tf.function(lambda x, y, layer=layer: layer([x, y]), autograph=False)
        yield {
            "benchmark": "device", "case": name, "input": [1, height, width, 21],
            "eager_s": round(median_seconds(lambda: layer(inputs).numpy(), sizes["repeats"]), 4),
            "tf_function_s": round(median_seconds(lambda: compiled(*inputs).numpy(), sizes["repeats"]), 4),
        }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="toy sizes (what the test suite runs)")
    args = parser.parse_args(argv)
    kind, name = device_name()
    sizes = SIZES[args.tiny]
    for row in [*model_cases(args.tiny, sizes), *crf_cases(sizes)]:
        row.update(device_type=kind, device=name, tensorflow=tf.__version__)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
