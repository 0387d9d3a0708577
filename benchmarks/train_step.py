"""Training-step speed of PAN-R101 and DeepLabV2-R101 (and the built-in preset) in float32
and mixed_bfloat16 on this machine, against its conv throughput measured in the same run.

One JSON line per (model, input): seconds per optimizer step for each precision (median
of the timed steps), `speedup_bf16`, GFLOPs per step (the TF profiler's count of the
forward pass on the frozen graph, times 3: every convolution and matmul of the forward has
two of the same size in the backward, for the input and for the weight gradients),
achieved GFLOP/s and `fraction_of_conv_peak` (the best of the large float32 convs of
`benchmarks/forward.py`, measured in this run before and after every case; bf16 is compared with the float32 peak too,
so its fraction can exceed 1), the losses of the first steps of both precisions from the
same weights on the same batch (`loss_max_rel_diff_bf16`), and the op types that take most
of a float32 step (`top_ops_float32`, share of the summed op time, from the TF profiler).

    python benchmarks/train_step.py            # PAN-R101 512x512 and DeepLabV2-R101 321x321, batch 2
    python benchmarks/train_step.py --quick    # smaller inputs and fewer steps: under 10 minutes
"""

import argparse
import collections
import glob
import json
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from forward import ConvPeak, count_flops  # noqa: E402

import kseg  # noqa: E402
from kseg.losses import MaskedSparseCategoricalCrossentropy  # noqa: E402
from kseg.training.optimizers import CoupledWeightDecaySGD  # noqa: E402
from kseg.training import preset  # noqa: E402

MODELS = {
    "pan_r101": lambda: kseg.models.PAN(num_classes=21, backbone="resnet101"),
    "deeplabv2_r101": lambda: kseg.models.DeepLabV2(num_classes=21, backbone="resnet101", aspp="L"),
    "builtin_preset": lambda: kseg.models.PAN(
        num_classes=5, backbone="resnet50", decoder_filters=preset.DECODER_FILTERS, backbone_options=preset.BACKBONE_OPTIONS
    ),
}
# model -> (batch, side) full and quick
CASES = {
    "pan_r101": ((2, 512), (1, 256)),
    "deeplabv2_r101": ((2, 321), (1, 193)),
    "builtin_preset": ((8, 96), (8, 96)),
}
PRECISIONS = ("float32", "mixed_bfloat16")
NOT_OPS = ("Process", "Run")  # executor events in the trace, not kernels


def build(name, precision, weights=None):
    keras.config.set_dtype_policy(precision)
    try:
        model = MODELS[name]()
    finally:
        keras.config.set_dtype_policy("float32")
    if weights is not None:
        model.set_weights(weights)
    return model


def train_step_function(model):
    """A compiled SGD step (the papers' coupled L2, momentum 0.9) on the masked cross-entropy."""
    optimizer = CoupledWeightDecaySGD(learning_rate=1e-3, momentum=0.9, l2=5e-4)
    loss_fn = MaskedSparseCategoricalCrossentropy()

    @tf.function
    def step(images, labels):
        with tf.GradientTape() as tape:
            logits = tf.cast(model(images, training=True), tf.float32)
            logits = tf.image.resize(logits, tf.shape(labels)[1:3], method="bilinear")
            loss = loss_fn(labels, logits)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return step


def run_steps(step, images, labels, count):
    losses, times = [], []
    for _ in range(count):
        start = time.perf_counter()
        losses.append(float(step(images, labels)))
        times.append(time.perf_counter() - start)
    return losses, times


def top_ops(step, images, labels, steps=3, keep=8):
    """{op type: share of the summed op time} over `steps` profiled steps."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    folder = tempfile.mkdtemp(prefix="kseg-profile-")
    tf.profiler.experimental.start(folder)
    for _ in range(steps):
        float(step(images, labels))
    tf.profiler.experimental.stop()
    space = xplane_pb2.XSpace()
    with open(sorted(glob.glob(os.path.join(folder, "**", "*.xplane.pb"), recursive=True))[-1], "rb") as f:
        space.ParseFromString(f.read())
    seconds = collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_"):  # the executor's threads; not Python's or the host's
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                op_type = name.rsplit(":", 1)[-1]
                if ":" in name and op_type.isidentifier() and op_type not in NOT_OPS:  # "scope/name:OpType"
                    seconds[op_type] += event.duration_ps * 1e-12
    total = sum(seconds.values()) or 1.0
    return {op: round(s / total, 3) for op, s in seconds.most_common(keep)}


def measure(name, batch, side, steps):
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(0, 255, (batch, side, side, 3)), tf.float32)
    reference = build(name, "float32")
    labels = tf.constant(rng.integers(0, reference.output_shape[-1], (batch, side, side)), tf.int32)
    flops = 3 * count_flops(lambda t: reference(t, training=False), tf.TensorSpec((1, side, side, 3), tf.float32)) * batch
    weights = reference.get_weights()
    row = {"benchmark": "train_step", "model": name, "input": [batch, side, side, 3], "parameters": reference.count_params(),
           "gflops_per_step": round(flops / 1e9, 1)}
    losses = {}
    for precision in PRECISIONS:
        model = build(name, precision, weights)
        step = train_step_function(model)
        losses[precision], _ = run_steps(step, images, labels, steps)  # the first steps, tracing included
        _, times = run_steps(step, images, labels, 3)
        seconds = float(np.median(times))
        row[f"s_per_step_{precision}"] = round(seconds, 3)
        row[f"achieved_gflop_s_{precision}"] = round(flops / seconds / 1e9, 1)
        if precision == "float32":
            row["top_ops_float32"] = top_ops(step, images, labels)
        keras.backend.clear_session()
    row["speedup_bf16"] = round(row["s_per_step_float32"] / row["s_per_step_mixed_bfloat16"], 3)
    first32, first16 = np.array(losses["float32"]), np.array(losses["mixed_bfloat16"])
    row["losses_float32"] = [round(v, 4) for v in first32]
    row["losses_mixed_bfloat16"] = [round(v, 4) for v in first16]
    row["loss_max_rel_diff_bf16"] = round(float(np.max(np.abs(first16 - first32) / np.abs(first32))), 4)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS))
    parser.add_argument("--quick", action="store_true", help="smaller inputs, 8 loss steps (under 10 minutes)")
    parser.add_argument("--steps", type=int, help="steps whose losses are compared (default 20, quick 8)")
    args = parser.parse_args()

    references = ConvPeak(3)
    references.measure()
    steps = args.steps or (8 if args.quick else 20)
    for name in args.models:
        batch, side = CASES[name][1 if args.quick else 0]
        row = measure(name, batch, side, steps)
        peak = references.measure()
        for precision in PRECISIONS:
            row[f"fraction_of_conv_peak_{precision}"] = round(row[f"achieved_gflop_s_{precision}"] / peak, 3)
        row.update(
            reference_conv2d_gflop_s=references.report(),
            cpu=platform.processor() or platform.machine(), threads=os.cpu_count(), tensorflow=tf.__version__,
        )
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
