"""The records writer (kseg/data/records_writer.py) on its own: what one example holds, how
shards are cut and named, and what an interrupted conversion's cleanup removes. Whole
conversions are checked through the command in tests/data/test_records.py."""

import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kseg.data import DataError
from kseg.data.records import FEATURES, decode_mask
from kseg.data.records_writer import _remove_unfinished, _ShardWriter, encode_example, shard_name


def _pair(folder, kind, size=(6, 4)):
    image = np.random.default_rng(0).integers(0, 255, (*size, 3), np.uint8)
    image_path, mask_path = str(folder / f"image.{kind.lower()}"), str(folder / "mask.png")
    Image.fromarray(image).save(image_path, kind)
    Image.fromarray(np.arange(size[0] * size[1], dtype=np.uint8).reshape(size) % 3).save(mask_path)
    return image_path, mask_path, image


@pytest.mark.parametrize("kind, stored", [("JPEG", b"jpeg"), ("PNG", b"png"), ("BMP", b"png"), ("TIFF", b"png")])
def test_an_example_keeps_jpeg_and_png_bytes_and_stores_other_formats_as_png(tmp_path, kind, stored):
    image_path, mask_path, image = _pair(tmp_path, kind)
    example = tf.io.parse_single_example(encode_example(image_path, mask_path, 3), {
        **FEATURES, "image/format": tf.io.FixedLenFeature([], tf.string), "mask/source": tf.io.FixedLenFeature([], tf.string)})
    assert example["image/format"].numpy() == stored and example["mask/source"].numpy().decode() == mask_path
    if kind in ("JPEG", "PNG"):
        assert example["image/encoded"].numpy() == open(image_path, "rb").read()  # not re-encoded
    else:
        np.testing.assert_array_equal(tf.io.decode_png(example["image/encoded"]).numpy(), image)  # lossless
    assert (int(example["image/height"]), int(example["image/width"])) == (6, 4)
    np.testing.assert_array_equal(decode_mask(example["mask/encoded"]).numpy(), np.arange(24).reshape(6, 4) % 3)


def test_a_bad_pair_is_a_data_error_naming_the_file(tmp_path):
    image_path, mask_path, _ = _pair(tmp_path, "PNG")
    with pytest.raises(DataError, match="mask.png"):
        encode_example(image_path, mask_path, num_classes=2)  # label 2 >= 2 classes


def test_shards_close_at_their_size_and_are_named_once_the_count_is_known(tmp_path):
    writer = _ShardWriter(str(tmp_path), "train", shard_bytes=25)
    for i in range(7):
        writer.write(b"x" * 10 + bytes([i]))  # 11 bytes: three records fill a shard
    assert writer.count == 7 and sorted(os.listdir(tmp_path))[0].startswith(".train.part-")
    names = writer.finish()
    assert names == [shard_name("train", i, 3) for i in range(3)] == ["train-00000-of-00003.tfrecord", "train-00001-of-00003.tfrecord", "train-00002-of-00003.tfrecord"]
    assert sorted(os.listdir(tmp_path)) == names
    records = [r.numpy()[-1] for r in tf.data.TFRecordDataset([str(tmp_path / n) for n in names])]
    assert records == list(range(7))


def test_cleanup_removes_only_an_unfinished_conversions_files(tmp_path):
    keep = ["notes.txt", "train-1-of-2.tfrecord", ".hidden"]
    remove = [shard_name("val", 0, 2), ".val.part-00001.tmp"]
    for name in keep + remove:
        (tmp_path / name).write_text("x")
    _remove_unfinished(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == sorted(keep)


def test_records_written_before_masks_options_were_recorded_are_still_the_same_conversion(tmp_path):
    import json

    from kseg.data import DatasetSpec, write_records

    root = tmp_path / "data"
    for split in ("train", "val"):
        (root / split / "images").mkdir(parents=True)
        (root / split / "masks").mkdir(parents=True)
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / split / "images" / "a.png")
        Image.fromarray(np.ones((4, 4), np.uint8)).save(root / split / "masks" / "a.png")
    spec = DatasetSpec("folder", str(root), class_names=("a", "b"))
    out = tmp_path / "records"
    assert write_records(spec, str(out))["source"] == {"format": "folder", "root": str(root), "label_map": {}, "mask_colours": False}
    contents = json.loads((out / "dataset.json").read_text())
    contents["source"] = {"format": "folder", "root": str(root)}  # as kseg wrote it before
    (out / "dataset.json").write_text(json.dumps(contents))
    assert write_records(spec, str(out))["unchanged"]
    with pytest.raises(DataError, match=r"'label_map': \{'1': 0\}"):
        write_records(spec.replace(label_map={1: 0}), str(out))
