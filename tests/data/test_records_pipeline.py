"""`data.format: records` (issue 30, items 2 and 4): TensorFlow ops only, the serving graph's
decoder, the same deterministic and resumable stream, in-graph checks and corrupt shards
named, and a run that trains, resumes and evaluates from records on `ram://`."""

import os

import numpy as np
import pytest
import tensorflow as tf

import kseg.data as kd
from kseg.data.records import FEATURES, RecordsSplit, read_dataset_file, records_split
from kseg.data.records_writer import write_records
from kseg.training.config import dataset_spec, load_config
from tests.tiny import TINY

ROOT = "ram://kseg-tests/builtin-records"
CROP = (48, 48)


@pytest.fixture(scope="module")
def records(data_root):
    write_records(dataset_spec(load_config(overrides=[f"data.root={data_root}"])), ROOT, shard_bytes=300_000)  # several shards a split
    contents = read_dataset_file(ROOT)
    assert len(contents["splits"]["train"]["shards"]) > 2
    return contents


def _stream(split, start_batch=0, batches=3):
    ds = kd.segmentation_dataset(split, 5, training=True, batch_size=4, crop_size=CROP, scale_range=(0.75, 1.5), flip=True,
                                 seed=7, repeat=True, start_batch=start_batch)
    return [(images.numpy(), masks.numpy()) for images, masks in ds.take(batches)]


def test_the_stream_is_a_function_of_seed_and_position_and_resumes_without_decoding(records):
    split = records_split(ROOT, records, "train")
    first, again, resumed = _stream(split), _stream(split), _stream(split, start_batch=1, batches=2)
    for (a, m), (b, n) in zip(first, again):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(m, n)
    for (a, m), (b, n) in zip(first[1:], resumed):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(m, n)
    images, masks = first[0]
    assert images.shape == (4, *CROP, 3) and images.dtype == np.float32 and masks.dtype == np.int32
    assert set(np.unique(masks)) <= set(range(5)) | {255}


def _ops(dataset):
    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(dataset._as_serialized_graph().numpy())
    return {node.op for node in graph.node} | {node.op for f in graph.library.function for node in f.node_def}


def test_no_python_in_the_records_pipeline(records, data_root):
    split = records_split(ROOT, records, "train")
    train = kd.segmentation_dataset(split, 5, training=True, batch_size=2, crop_size=CROP, seed=1, repeat=True)
    evaluation = kd.segmentation_dataset(split[:4], 5, training=False)
    python_ops = {"PyFunc", "EagerPyFunc", "PyFuncStateless"}
    assert not _ops(train) & python_ops and not _ops(evaluation) & python_ops
    pairs = kd.voc_pairs(data_root, "train")[:4]  # the file-pair pipeline, for contrast, runs PIL in Python
    assert _ops(kd.segmentation_dataset(pairs, 5, training=True, batch_size=2, crop_size=CROP, seed=1)) & python_ops


def test_records_streams_run_without_the_autotuning_model(records):
    # see kseg.data.pipeline_options: its thread made every model.fit end wait on one CPU
    for split in ("train", "val"):
        stream = records_split(ROOT, records, split)
        assert kd.segmentation_dataset(stream, 5, training=True, batch_size=2, crop_size=CROP, seed=0).options().autotune.enabled is False
        assert kd.segmentation_dataset(stream, 5, training=False).options().autotune.enabled is False


def test_training_pixels_are_the_serving_graphs(records):
    from kseg.serving.decoding import decode_image

    split = records_split(ROOT, records, "val")[:3]
    records_read = [tf.io.parse_single_example(r, FEATURES) for r in tf.data.TFRecordDataset(list(split.files)).take(3)]
    for (image, _), example in zip(kd.segmentation_dataset(split, 5, training=False), records_read):
        served = decode_image(example["image/encoded"])
        assert np.abs(image[0].numpy() - served.numpy()).max() == 0  # zero skew: the same decoder on the same bytes


def _write(path, examples):
    with tf.io.TFRecordWriter(path) as writer:
        for example in examples:
            writer.write(example)


def test_a_bad_record_names_its_file_and_a_corrupt_shard_is_named(records, tmp_path):
    from kseg.data.records_writer import _bytes_feature, _int_feature, _png

    def example(mask_shape, value=1):
        image = np.zeros((6, 8, 3), np.uint8)
        feature = {
            "image/encoded": _bytes_feature(_png(image)), "image/format": _bytes_feature(b"png"),
            "image/height": _int_feature(6), "image/width": _int_feature(8),
            "mask/encoded": _bytes_feature(_png(np.full(mask_shape, value, np.uint8))),
            "image/source": _bytes_feature(b"/data/a.png"), "mask/source": _bytes_feature(b"/data/a_mask.png"),
        }
        return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()

    cases = {"size": (example((5, 8)), r"/data/a_mask.png: mask is 8x5 but its image is 8x6"),
             "labels": (example((6, 8), value=9), r"/data/a_mask.png: label values up to 9 are not < num_classes=5")}
    for name, (record, message) in cases.items():
        path = str(tmp_path / f"{name}.tfrecord")
        _write(path, [record])
        with pytest.raises(kd.DataError, match=message), kd.named_data_errors():
            list(kd.segmentation_dataset(RecordsSplit((path,), 1, name), 5, training=False))
    shard = str(tmp_path / "train-00000-of-00001.tfrecord")
    _write(shard, [example((6, 8))] * 4)
    data = bytearray(open(shard, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(shard, "wb").write(bytes(data))
    with pytest.raises(kd.DataError, match=rf"{shard}: a corrupt record shard \(corrupted record at \d+\); write the records again"):
        with kd.named_data_errors():
            list(kd.segmentation_dataset(RecordsSplit((shard,), 4, "train"), 5, training=False))


def test_a_run_trains_resumes_and_evaluates_from_records_on_ram(records, tmp_path):
    from kseg.training.runner import train

    run_dir = str(tmp_path / "run")
    settings = TINY + ["data.format=records", f"data.root={ROOT}", "data.crop=[48,48]"]
    first = train(load_config(overrides=settings + ["train.steps=2"]), run_dir, verbose=0)
    resumed = train(load_config(overrides=settings + ["train.steps=4"]), run_dir, verbose=0)
    assert first["steps"] == 2 and resumed["steps"] == 4 and np.isfinite(resumed["val_mean_iou"])
    assert resumed["metrics"] and os.path.exists(resumed["metrics"]["markdown"])
    config = load_config(overrides=settings)
    assert config["data"]["class_names"] == records["class_names"] and config["data"]["palette"] == records["palette"]
