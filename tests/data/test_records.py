"""`python -m training.make_records` (issue 30, item 1): any kseg dataset -> sharded TFRecords
with the image bytes as they are, train-id masks TensorFlow reads, a dataset.json written
last; bad examples named or listed; a rerun over finished records does nothing."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import kseg.data as kd
from kseg.data import records
from kseg.data.records import decode_mask, read_dataset_file, split_files
from kseg.visualize import cityscapes_palette
from training.make_records import main

FEATURES = {  # what training reads, and what records keep besides
    **records.FEATURES,
    "image/format": tf.io.FixedLenFeature([], tf.string),
    "image/source": tf.io.FixedLenFeature([], tf.string),
}


def _examples(files):
    return [tf.io.parse_single_example(record, FEATURES) for record in tf.data.TFRecordDataset(files)]


def test_the_builtin_dataset_converts_shard_by_shard_and_a_rerun_does_nothing(data_root, tmp_path, capsys):
    out = str(tmp_path / "records")
    argv = ["--set", f"data.root={data_root}", "--out", out, "--shard-mb", "0.5", "--quiet"]
    assert main(argv) == 0
    assert "train 480 examples in" in capsys.readouterr().out
    contents = read_dataset_file(out)
    assert contents["class_names"] == list(kd.BUILTIN_CLASSES) and len(contents["palette"]) == len(kd.BUILTIN_CLASSES)
    assert {split: s["examples"] for split, s in contents["splits"].items()} == {"train": 480, "val": 120}
    shards = contents["splits"]["val"]["shards"]
    assert len(shards) > 1 and shards[0] == f"val-00000-of-{len(shards):05d}.tfrecord"
    assert sorted(n for n in os.listdir(out) if n.startswith("val-")) == shards
    examples = _examples(split_files(out, contents, "val"))
    pairs = kd.voc_pairs(data_root, "val")
    assert [e["image/source"].numpy().decode() for e in examples] == [p[0] for p in pairs]  # val keeps its order
    for example, (image_path, mask_path) in zip(examples[:5], pairs):
        with open(image_path, "rb") as f:
            assert example["image/encoded"].numpy() == f.read() and example["image/format"] == b"jpeg"  # not re-encoded
        _, mask = kd.read_pair(image_path, mask_path, num_classes=len(kd.BUILTIN_CLASSES))
        np.testing.assert_array_equal(decode_mask(example["mask/encoded"]).numpy(), mask)
        assert (example["image/height"], example["image/width"]) == mask.shape
    train = [e["image/source"].numpy().decode() for e in _examples(split_files(out, contents, "train"))]
    assert sorted(train) == sorted(p[0] for p in kd.voc_pairs(data_root, "train")) and train != sorted(train)  # shuffled
    before = os.path.getmtime(os.path.join(out, "dataset.json"))
    assert main(argv) == 0
    assert "already holds finished records" in capsys.readouterr().out
    assert os.path.getmtime(os.path.join(out, "dataset.json")) == before


def _cityscapes(root, bad=False):
    for split, city in (("train", "aachen"), ("val", "lindau")):
        (root / "leftImg8bit" / split / city).mkdir(parents=True)
        (root / "gtFine" / split / city).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((6, 8, 3), 40 * i, np.uint8)).save(root / "leftImg8bit" / split / city / f"{city}_{i}_leftImg8bit.png")
            label_ids = np.array([[7, 8, 26, 33, 0, 1, 7, 7]] * 6, np.uint8)
            size = (5, 8) if bad and i == 1 and split == "train" else (6, 8)
            Image.fromarray(label_ids[: size[0]], mode="L").save(root / "gtFine" / split / city / f"{city}_{i}_gtFine_labelIds.png")


def test_cityscapes_label_ids_become_train_ids_on_any_filesystem(tmp_path):
    _cityscapes(tmp_path / "cs")
    out = f"ram://{tmp_path}/records"
    assert main(["--set", "data.format=cityscapes", "--set", f"data.root={tmp_path / 'cs'}", "--out", out, "--quiet"]) == 0
    contents = read_dataset_file(out)
    assert contents["palette"] == cityscapes_palette()[:19].tolist()
    examples = _examples(split_files(out, contents, "val"))
    assert len(examples) == 3 and examples[0]["image/format"] == b"png"
    assert decode_mask(examples[0]["mask/encoded"]).numpy()[0].tolist() == [0, 1, 13, 18, 255, 255, 0, 0]


def test_a_bad_example_stops_naming_its_file_or_is_listed_and_left_out(tmp_path, capsys):
    _cityscapes(tmp_path / "cs", bad=True)
    source = ["--set", "data.format=cityscapes", "--set", f"data.root={tmp_path / 'cs'}", "--quiet"]
    out = str(tmp_path / "records")
    assert main(source + ["--out", out]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "aachen_1_gtFine_labelIds.png: mask is 8x5 but its image" in err
    assert not os.path.exists(os.path.join(out, "dataset.json"))
    assert main(source + ["--out", out, "--skip-bad-examples"]) == 0  # the unfinished shards of the first try removed
    assert "skipped " in capsys.readouterr().err
    contents = read_dataset_file(out)
    assert contents["splits"]["train"]["examples"] == 2 and len(contents["skipped"]) == 1
    assert sorted(os.listdir(out)) == sorted(["dataset.json", *contents["splits"]["train"]["shards"], *contents["splits"]["val"]["shards"]])


def test_a_folder_without_dataset_json_is_not_records(tmp_path):
    with pytest.raises(kd.DataError, match=r"holds no dataset.json: not finished records \(write them with python -m training.make_records\)"):
        read_dataset_file(str(tmp_path))
    (tmp_path / "dataset.json").write_text(json.dumps({"kseg_records": 99}))
    with pytest.raises(kd.DataError, match="not kseg records of version 1"):
        read_dataset_file(str(tmp_path))


def test_a_record_reads_its_images_orientation_once():
    # For the size check and for the region reader: it was read twice, ~0.3 ms a record
    @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
    def read(record):
        reader, mask = records.read_record(record, 3)
        return reader(0, 0, 1, 1), mask

    # the calls every record runs, outside the branches a failure's message or a turned
    # image's whole decoding take
    outer = read.get_concrete_function().graph.as_graph_def().node
    calls = [node.name for node in outer if "exif_orientation" in node.attr["f"].func.name]
    assert len(calls) == 1, calls
