"""Does the input pipeline keep up with training? VOC-layout pipeline vs PAN-R101 train steps.

Writes a VOC-layout folder of 500x375 JPEG/PNG pairs (the built-in generator's textured
shapes at VOC's image size), then measures in one run:
- images/s of `kseg.data.segmentation_dataset` with PAN's VOC augmentation (scale 0.5-2,
  pad, crop 512x512, flip), batch 8;
- images/s consumed by PAN-R101 training steps at the same crop (batch 2);
and prints one JSON line with the ratio (the pipeline must be >= 2x faster).

    python benchmarks/input_pipeline.py
"""

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")




def write_voc(root, count):
    from kseg.data.builtin import make_example, save_voc_pair

    for sub in ("JPEGImages", "SegmentationClass", os.path.join("ImageSets", "Segmentation")):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    ids = []
    for i in range(count):
        image, mask = make_example(i, size=500, seed=7)
        name = f"img_{i:04d}"
        save_voc_pair(root, name, image[:375], mask[:375], quality=90)
        ids.append(name)
    with open(os.path.join(root, "ImageSets", "Segmentation", "train.txt"), "w") as f:
        f.write("\n".join(ids) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--pipeline-batches", type=int, default=24)
    parser.add_argument("--train-steps", type=int, default=3)
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    import kseg
    from kseg.data import segmentation_dataset, voc_pairs

    root = tempfile.mkdtemp()
    write_voc(root, args.images)
    pairs = voc_pairs(root, "train")
    ds = segmentation_dataset(
        pairs, 21, training=True, batch_size=8, crop_size=(512, 512), scale_range=(0.5, 2.0), flip=True, seed=0,
        repeat=True,
    )
    iterator = iter(ds)
    next(iterator)
    start = time.perf_counter()
    for _ in range(args.pipeline_batches):
        next(iterator)
    pipeline_ips = 8 * args.pipeline_batches / (time.perf_counter() - start)

    model = kseg.models.PAN(num_classes=21)
    model.compile(optimizer=keras.optimizers.SGD(1e-3, momentum=0.9), loss=kseg.losses.MaskedSparseCategoricalCrossentropy())
    x = tf.random.uniform((2, 512, 512, 3), 0, 255)
    y = tf.random.uniform((2, 512, 512), 0, 21, dtype=tf.int32)
    model.train_on_batch(x, y)  # trace
    start = time.perf_counter()
    for _ in range(args.train_steps):
        model.train_on_batch(x, y)
    train_ips = 2 * args.train_steps / (time.perf_counter() - start)
    print(json.dumps({
        "benchmark": "input_pipeline",
        "pipeline": "VOC layout, 500x375 JPEG + palette PNG, scale 0.5-2, crop 512, flip, batch 8",
        "pipeline_images_per_s": round(pipeline_ips, 2),
        "pan_r101_train_images_per_s": round(train_ips, 3),
        "ratio": round(pipeline_ips / train_ips, 1),
        "keeps_up": bool(pipeline_ips >= 2 * train_ips),
        "cpu_threads": os.cpu_count(),
    }))



if __name__ == "__main__":
    main()
