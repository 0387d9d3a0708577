"""`kseg.layers.matmul_conv.matmul_conv2d` against `tf.nn.conv2d` on the convs it is meant for.

One JSON line per (shape, batch): forward and forward + backward milliseconds of both, best
of `--repeats` calls interleaved in one process, and the ratio (conv2d / matmul: > 1 means
the matmul form is faster). The default shapes: PAN's FPA 7x7 conv over res5's 2048
channels at 512x512 (16x16) and 1024x1024 (32x32) inputs, and two convs below
`MATMUL_CONV_MIN_REDUCTION` that stay on `tf.nn.conv2d` (3x3 over 1024, 7x7 over 256).

    python benchmarks/matmul_conv.py
    python benchmarks/matmul_conv.py --batch-sizes 1 2 4 --repeats 10
"""

import argparse
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from kseg.layers.matmul_conv import matmul_conv2d, uses_matmul_conv  # noqa: E402

# (side, channels, filters, kernel)
SHAPES = [(16, 2048, 256, 7), (32, 2048, 256, 7), (32, 1024, 256, 3), (16, 256, 256, 7)]


def _forward_and_backward(conv, kernel):
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = conv(x, kernel)
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, [x, kernel])

    return tf.function(step)


def _run(fn, x):
    for tensor in tf.nest.flatten(fn(x)):
        tensor.numpy()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    for side, channels, filters, k in SHAPES:
        for batch in args.batch_sizes:
            x = tf.random.normal((batch, side, side, channels))
            kernel = tf.Variable(tf.random.normal((k, k, channels, filters)) * 0.01)
            routes = {"conv2d": lambda t, w: tf.nn.conv2d(t, w, 1, "SAME"), "matmul": matmul_conv2d}
            fns = {}
            for name, conv in routes.items():
                fns[(name, "forward")] = tf.function(lambda t, conv=conv: conv(t, kernel))
                fns[(name, "forward_backward")] = _forward_and_backward(conv, kernel)
            times = {key: [] for key in fns}
            for fn in fns.values():
                _run(fn, x)
            for _ in range(args.repeats):
                for key, fn in fns.items():
                    start = time.perf_counter()
                    _run(fn, x)
                    times[key].append(time.perf_counter() - start)
            ms = {f"{name}_{phase}_ms": round(min(t) * 1e3, 1) for (name, phase), t in times.items()}
            line = {
                "benchmark": "matmul_conv",
                "input": [batch, side, side, channels],
                "kernel": [k, k, channels, filters],
                "gflop_forward": round(2 * batch * side * side * k * k * channels * filters / 1e9, 2),
                "ConvBNActivation_uses_matmul": uses_matmul_conv(k, channels),
                **ms,
                "speedup_forward": round(ms["conv2d_forward_ms"] / ms["matmul_forward_ms"], 2),
                "speedup_forward_backward": round(ms["conv2d_forward_backward_ms"] / ms["matmul_forward_backward_ms"], 2),
                "cpu": platform.machine(),
                "tensorflow": tf.__version__,
            }
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
