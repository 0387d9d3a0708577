"""Does the input pipeline keep up with training, and what do records buy?

Writes VOC-layout folders of generated textured-shape pictures at two sizes -- VOC's (500x375
JPEG + palette PNG; scale 0.5-2, crop 512) and Cityscapes' (2048x1024; scale 0.5-2, crop 768)
-- converts each to records (`kseg.data.records_writer`), and measures in one run, flip on,
batch 8:
- images/s of the file-pair pipeline (PIL in `tf.numpy_function`) and of the records
  pipeline (TensorFlow ops only), each with tf.data limited to 1 and to 2 threads;
- images/s of the records pipeline through tf.data service with 1 and 2 local worker
  processes (`python -m training.data_service`, sharing this machine's cores);
- images/s a PAN-R101 training step consumes at the same crop (batch 2).

One JSON line per case, with `ratio_to_pil` (records / file pairs, same size and threads) or
`ratio_to_training` (pipeline / training step).

    python benchmarks/input_pipeline.py
    python benchmarks/input_pipeline.py --sizes voc --images 32
"""

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.onednn import _cpu_model  # noqa: E402

SIZES = {  # name -> (height, width, crop)
    "voc": (375, 500, 512),
    "cityscapes": (1024, 2048, 768),
}


def write_voc(root, count, height, width):
    from kseg.data.builtin import make_example, save_voc_pair

    for sub in ("JPEGImages", "SegmentationClass", os.path.join("ImageSets", "Segmentation")):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    ids = []
    for i in range(count):
        image, mask = make_example(i, size=max(height, width), seed=7)
        name = f"img_{i:04d}"
        save_voc_pair(root, name, image[:height, :width], mask[:height, :width], quality=90)
        ids.append(name)
    with open(os.path.join(root, "ImageSets", "Segmentation", "train.txt"), "w") as f:
        f.write("\n".join(ids) + "\n")


def _images_per_s(dataset, batches, threads):
    import tensorflow as tf

    options = tf.data.Options()
    options.threading.private_threadpool_size = threads
    iterator = iter(dataset.with_options(options))
    next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return 8 * batches / (time.perf_counter() - start)


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _through_service(split, crop, batches, workers):
    """images/s of the records stream read from a dispatcher and `workers` worker processes."""
    import subprocess

    from kseg.data import segmentation_dataset
    from kseg.data.service import distribute

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    port, ports = _free_port(), [_free_port() for _ in range(workers)]
    command = [sys.executable, "-m", "training.data_service"]
    servers = [subprocess.Popen(command + ["dispatcher", "--port", str(port), "--workers", ",".join(f"localhost:{p}" for p in ports)], cwd=root)]
    servers += [subprocess.Popen(command + ["worker", "--dispatcher", f"localhost:{port}", "--port", str(p)], cwd=root) for p in ports]
    try:
        ds = segmentation_dataset(split, 21, training=True, batch_size=8, crop_size=(crop, crop), scale_range=(0.5, 2.0),
                                  flip=True, seed=0, repeat=True, shard_hint=True)
        return _images_per_s(distribute(ds, f"grpc://localhost:{port}"), batches, 2)
    finally:
        for server in servers:
            server.terminate()
            server.wait()


def _train_images_per_s(crop, steps):
    import keras
    import tensorflow as tf

    import kseg

    model = kseg.models.PAN(num_classes=21)
    model.compile(optimizer=keras.optimizers.SGD(1e-3, momentum=0.9), loss=kseg.losses.MaskedSparseCategoricalCrossentropy())
    x = tf.random.uniform((2, crop, crop, 3), 0, 255)
    y = tf.random.uniform((2, crop, crop), 0, 21, dtype=tf.int32)
    model.train_on_batch(x, y)  # trace
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return 2 * steps / (time.perf_counter() - start)


def measure(name, images, batches, train_steps):
    from kseg.data import segmentation_dataset, voc_pairs
    from kseg.data.records import read_dataset_file, records_split
    from kseg.data.records_writer import write_records
    from kseg.data.spec import DatasetSpec

    height, width, crop = SIZES[name]
    root = tempfile.mkdtemp()
    write_voc(os.path.join(root, "voc"), images, height, width)
    spec = DatasetSpec("voc", os.path.join(root, "voc"), train_split="train", val_split="train", num_classes=21)
    write_records(spec, os.path.join(root, "records"))
    sources = {
        "file_pairs_pil": voc_pairs(spec.root, "train"),
        "records": records_split(os.path.join(root, "records"), read_dataset_file(os.path.join(root, "records")), "train"),
    }
    common = {"cpu": _cpu_model(), "date": time.strftime("%Y-%m-%d"), "size": f"{width}x{height}", "crop": crop, "batch": 8}
    found = {}
    for threads in (1, 2):
        for source, split in sources.items():
            ds = segmentation_dataset(split, 21, training=True, batch_size=8, crop_size=(crop, crop), scale_range=(0.5, 2.0),
                                      flip=True, seed=0, repeat=True)
            found[source, threads] = _images_per_s(ds, batches, threads)
            line = {"case": f"{name}_{source}_{threads}_threads", **common, "images_per_s": round(found[source, threads], 2)}
            if source == "records":
                line["ratio_to_pil"] = round(found[source, threads] / found["file_pairs_pil", threads], 2)
            print(json.dumps(line), flush=True)
    for workers in (1, 2):
        rate = _through_service(sources["records"], crop, batches, workers)
        print(json.dumps({
            "case": f"{name}_records_tf_data_service_{workers}_workers", **common, "images_per_s": round(rate, 2),
            "ratio_to_pil": round(rate / found["file_pairs_pil", 2], 2),
        }), flush=True)
    train = _train_images_per_s(crop, train_steps)
    print(json.dumps({
        "case": f"{name}_pan_r101_train_step", **common, "batch": 2, "images_per_s": round(train, 3),
        "ratio_to_training": {f"{source}_2_threads": round(found[source, 2] / train, 1) for source in sources},
    }), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="voc,cityscapes", help="comma-separated: voc, cityscapes")
    parser.add_argument("--images", type=int, default=24, help="pictures generated per size (the stream repeats them)")
    parser.add_argument("--pipeline-batches", type=int, default=12)
    parser.add_argument("--train-steps", type=int, default=2)
    args = parser.parse_args()
    for name in args.sizes.split(","):
        measure(name, args.images, args.pipeline_batches, args.train_steps)


if __name__ == "__main__":
    main()
