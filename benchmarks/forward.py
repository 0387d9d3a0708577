"""Forward-pass speed of DeepLabV2-R101 and PAN-R101 on this machine's CPU.

One JSON line per (model, batch size): parameters, GFLOPs per image (counted by the TF
profiler on the frozen graph), images/s with and without XLA (`jit_compile=True`), and
the achieved GFLOP/s as a fraction of the machine's conv throughput, measured in the same
run on large 3x3 and 1x1 conv2d ops (the best of the two is the reference: what a
conv-dominated network can hope for here; re-measured after every case, the best so far counts).

    python benchmarks/forward.py                       # both models, batch 1 and 4, 512x512
    python benchmarks/forward.py --models pan --batch-sizes 1 --repeats 2
"""

import argparse
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2  # noqa: E402

import kseg  # noqa: E402

MODELS = {
    "deeplabv2_r101": lambda: kseg.models.DeepLabV2(num_classes=21, backbone="resnet101", aspp="L"),
    "pan_r101": lambda: kseg.models.PAN(num_classes=21, backbone="resnet101"),
}


def count_flops(fn, spec):
    """FLOPs (multiply and add counted separately) of one call, from the frozen graph."""
    concrete = tf.function(fn).get_concrete_function(spec)
    frozen = convert_variables_to_constants_v2(concrete)
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(graph=frozen.graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op", options=options)
    return profile.total_float_ops


def time_calls(fn, x, repeats, warmup=1):
    for _ in range(warmup):
        fn(x).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x).numpy()
        times.append(time.perf_counter() - start)
    return min(times), sorted(times)[len(times) // 2]


def conv_throughput(repeats):
    """GFLOP/s of large convs measured here; the best of them is the machine's reference.

    A 3x3 conv (4x128x128x256 -> 256) and a 1x1 conv (4x64x64x1024 -> 1024, the shape of
    ResNet's bottleneck convs, which oneDNN runs as a matmul).
    """
    cases = {
        "conv3x3": ((4, 128, 128, 256), (3, 3, 256, 256)),
        "conv1x1": ((4, 64, 64, 1024), (1, 1, 1024, 1024)),
    }
    results = {}
    for name, (x_shape, k_shape) in cases.items():
        x = tf.random.normal(x_shape)
        kernel = tf.random.normal(k_shape)
        conv = tf.function(lambda t, k=kernel: tf.nn.conv2d(t, k, 1, "SAME"))
        flops = 2 * x_shape[0] * x_shape[1] * x_shape[2] * k_shape[0] * k_shape[1] * k_shape[2] * k_shape[3]
        best, _ = time_calls(conv, x, repeats, warmup=2)
        results[name] = flops / best / 1e9
    return results


class ConvPeak:
    """The reference conv throughput, re-measured around every case: the best seen so far is
    the reference, so a slow moment of this shared machine while the reference is timed
    cannot flatter the fractions."""

    def __init__(self, repeats):
        self.repeats = repeats
        self.best = {}

    def measure(self):
        """Time the reference convs again; return the best GFLOP/s seen so far."""
        for name, value in conv_throughput(self.repeats).items():
            self.best[name] = max(value, self.best.get(name, 0.0))
        return max(self.best.values())

    def report(self):
        return {name: round(value, 1) for name, value in self.best.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS))
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-xla", action="store_true", help="skip the jit_compile=True runs")
    args = parser.parse_args()

    references = ConvPeak(max(args.repeats, 3))
    references.measure()
    for name in args.models:
        model = MODELS[name]()
        params = model.count_params()
        spec = tf.TensorSpec((1, args.size, args.size, 3), tf.float32)
        flops = count_flops(lambda t: model(t, training=False), spec)
        plain = tf.function(lambda t: model(t, training=False))
        xla = tf.function(lambda t: model(t, training=False), jit_compile=True)
        for batch in args.batch_sizes:
            x = tf.random.uniform((batch, args.size, args.size, 3), 0, 255)
            best, median = time_calls(plain, x, args.repeats)
            peak = references.measure()
            row = {
                "benchmark": "forward",
                "model": name,
                "input": [batch, args.size, args.size, 3],
                "parameters": params,
                "gflops_per_image": round(flops / 1e9, 2),
                "images_per_s": round(batch / best, 3),
                "median_s_per_batch": round(median, 3),
                "achieved_gflop_s": round(flops * batch / best / 1e9, 1),
                "reference_conv2d_gflop_s": references.report(),
                "fraction_of_conv2d_throughput": round(flops * batch / best / 1e9 / peak, 3),
                "cpu": platform.processor() or platform.machine(),
                "threads": os.cpu_count(),
                "tensorflow": tf.__version__,
            }
            if not args.no_xla:
                xla_best, _ = time_calls(xla, x, args.repeats)
                row["images_per_s_xla"] = round(batch / xla_best, 3)
                row["xla_speedup"] = round(best / xla_best, 3)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
