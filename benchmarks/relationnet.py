"""Cost of RelationNet's parts on this machine's CPU, each measured against its reference in
the same run.

Two JSON lines:
- "relation_module": forward time of RelationNet (Wide ResNet-38 with deformable blocks
  6-7, 1x1 reduction, relation module, classifier) against the same network with the
  relation module removed (the classifier reads the reduction directly; same weights,
  same channel count when hidden_size * 2 == reduce_filters, as in the defaults).
- "deformable_conv": `DeformableConv2D` against `keras.layers.Conv2D` of the same size
  (by default block 6's deformable conv: 512 -> 1024 channels, 3x3, dilation 4, on the
  stride-8 map of a 512x512 image), forward and forward + backward.

    python benchmarks/relationnet.py                         # 19 classes, 512x512, batch 1
    python benchmarks/relationnet.py --size 256 --repeats 2
"""

import argparse
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import kseg  # noqa: E402
from kseg.layers import DeformableConv2D  # noqa: E402
from kseg.layers.resize import ResizeLike  # noqa: E402


def median_seconds(fn, args, repeats):
    """Median wall time of `fn(*args)` after one warm-up (tracing) call."""
    keras.ops.convert_to_numpy(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(fn(*args))
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def without_relation_module(model):
    """`model` (RelationNet) with the relation module cut out: classifier on the reduction."""
    x = model.get_layer("reduce").output
    logits = model.get_layer("classifier")(x)
    outputs = ResizeLike(name="upsample_baseline")([logits, model.inputs[0]])
    return keras.Model(model.inputs, outputs, name="relationnet_without_relation_module")


def relation_module_row(args, environment):
    model = kseg.models.RelationNet(num_classes=args.classes)
    baseline = without_relation_module(model)
    x = tf.random.uniform((args.batch, args.size, args.size, 3), 0, 255)
    full = tf.function(lambda t: model(t, training=False))
    cut = tf.function(lambda t: baseline(t, training=False))
    full_s, cut_s = median_seconds(full, (x,), args.repeats), median_seconds(cut, (x,), args.repeats)
    relation = model.get_layer("relation")
    # The module alone on the feature map it sees: its cost is small next to the backbone's,
    # so the whole-network difference is within run-to-run noise; this isolates it.
    side = -(-args.size // 8)
    features = tf.random.normal((args.batch, side, side, int(relation.input.shape[-1])))
    alone_s = median_seconds(tf.function(lambda t: relation(t)), (features,), args.repeats)
    return {
        "benchmark": "relation_module",
        "input": [args.batch, args.size, args.size, 3],
        "feature_map": [side, side, int(relation.input.shape[-1])],  # output stride 8
        "relationnet_s": round(full_s, 3),
        "without_relation_module_s": round(cut_s, 3),
        "ratio": round(full_s / cut_s, 3),
        "relation_module_alone_s": round(alone_s, 3),
        "relation_module_alone_share": round(alone_s / full_s, 3),
        "parameters": model.count_params(),
        "relation_module_parameters": relation.count_params(),
        **environment,
    }


def deformable_row(args, environment):
    side = args.size // 8
    x = tf.random.normal((args.batch, side, side, args.in_channels))
    deformable = DeformableConv2D(args.out_channels, 3, dilation_rate=args.dilation, use_bias=False)
    plain = keras.layers.Conv2D(args.out_channels, 3, padding="same", dilation_rate=args.dilation, use_bias=False)
    deformable.build(x.shape)
    plain.build(x.shape)

    def forward_backward(layer):
        @tf.function
        def step(t):
            with tf.GradientTape() as tape:
                tape.watch(t)
                loss = tf.reduce_sum(tf.square(layer(t)))
            grads = tape.gradient(loss, [t] + layer.trainable_variables)
            return tf.add_n([tf.reduce_sum(g) for g in grads])

        return step

    times = {}
    for name, layer in (("deformable", deformable), ("conv2d", plain)):
        times[f"{name}_forward_s"] = median_seconds(tf.function(lambda t, l=layer: l(t)), (x,), args.repeats)
        times[f"{name}_forward_backward_s"] = median_seconds(forward_backward(layer), (x,), args.repeats)
    return {
        "benchmark": "deformable_conv",
        "input": [args.batch, side, side, args.in_channels],
        "filters": args.out_channels,
        "kernel": 3,
        "dilation": args.dilation,
        **{k: round(v, 4) for k, v in times.items()},
        "forward_ratio": round(times["deformable_forward_s"] / times["conv2d_forward_s"], 2),
        "forward_backward_ratio": round(times["deformable_forward_backward_s"] / times["conv2d_forward_backward_s"], 2),
        "extra_parameters": deformable.count_params() - plain.count_params(),
        **environment,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512, help="image side (the conv runs at size / 8)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--classes", type=int, default=19)
    parser.add_argument("--in-channels", type=int, default=512)
    parser.add_argument("--out-channels", type=int, default=1024)
    parser.add_argument("--dilation", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=("relation_module", "deformable_conv"))
    args = parser.parse_args()
    environment = {"cpu": platform.processor() or platform.machine(), "threads": os.cpu_count(), "tensorflow": tf.__version__}
    if args.only != "deformable_conv":
        print(json.dumps(relation_module_row(args, environment)), flush=True)
    if args.only != "relation_module":
        print(json.dumps(deformable_row(args, environment)), flush=True)


if __name__ == "__main__":
    main()
