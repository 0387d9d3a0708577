"""Cost of adversarial training: seconds per Seg-GAN / SS-GAN training step against a plain
training step of the same segmentation network at the same size and batch, measured in the
same run (the overhead of the discriminator, its ConvCRFs and its update).

One JSON line per GAN: seconds per adversarial step, seconds per plain step (same
generator, masked cross-entropy, same optimizer), their ratio, and the discriminator's
share of the parameters.

    python benchmarks/adversarial_step.py                          # paper sizes: Seg-GAN R101 at 319, SS-GAN R50 at 321
    python benchmarks/adversarial_step.py --models seggan --size 161 --steps 2
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

MODELS = {
    "seggan": lambda: kseg.models.SegGAN(num_classes=21),  # DeepLab-v2 R101 ASPP-L + D with 4 ConvCRFs
    "ssgan": lambda: kseg.models.SSGAN(num_classes=21, generator="resnet50"),
}


def seconds_per_step(model, images, labels, steps):
    """Median wall time of `train_on_batch` after one warm-up (tracing) step."""
    model.train_on_batch(images, labels)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(images, labels)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS))
    parser.add_argument("--size", type=int, default=319, help="square crop side (Seg-GAN §4.2: 319)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (args.batch, args.size, args.size, 3)).astype("float32")
    labels = rng.integers(0, 21, (args.batch, args.size, args.size)).astype("int32")
    for name in args.models:
        gan = MODELS[name]()
        gan.compile(
            g_optimizer=keras.optimizers.SGD(2.5e-4, momentum=0.9, nesterov=True),
            d_optimizer=keras.optimizers.Adam(1e-4),
        )
        adversarial = seconds_per_step(gan, images, labels, args.steps)
        plain = gan.generator
        plain.compile(optimizer=keras.optimizers.SGD(2.5e-4, momentum=0.9, nesterov=True), loss=MaskedSparseCategoricalCrossentropy())
        baseline = seconds_per_step(plain, images, labels, args.steps)
        d_params = gan.discriminator.count_params()
        print(
            json.dumps(
                {
                    "benchmark": "adversarial_step",
                    "model": name,
                    "size": args.size,
                    "batch": args.batch,
                    "seconds_per_adversarial_step": round(adversarial, 3),
                    "seconds_per_plain_step": round(baseline, 3),
                    "ratio_adversarial_over_plain": round(adversarial / baseline, 3),
                    "discriminator_params": d_params,
                    "generator_params": gan.generator.count_params(),
                    "machine": f"{platform.machine()} {os.cpu_count()} cores, TF {tf.__version__}",
                }
            ),
            flush=True,
        )
        keras.backend.clear_session()


if __name__ == "__main__":
    main()
