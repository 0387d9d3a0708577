"""Checked reading (kseg/data/decode.py): a bad image or mask is a `DataError` naming the file
and what is wrong, in Python and inside tf.data; skipped and counted with skip_bad_examples."""

import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import kseg.data as kd
from tests.data.test_pipeline import _write_pair


def test_bad_data_errors_name_the_file(tmp_path):
    root = str(tmp_path)
    _write_pair(root, "ok", np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8))
    _write_pair(root, "size", np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9), np.uint8))
    _write_pair(root, "label", np.zeros((8, 8, 3), np.uint8), np.full((8, 8), 9, np.uint8))
    with open(os.path.join(root, "images", "ok.png"), "rb") as f:
        data = f.read()
    with open(os.path.join(root, "images", "truncated.png"), "wb") as f:
        f.write(data[: len(data) // 2])
    _write_pair(os.path.join(root, "x"), "truncated", np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8))
    os.replace(os.path.join(root, "x", "masks", "truncated.png"), os.path.join(root, "masks", "truncated.png"))
    masks = os.path.join(root, "masks")
    images = os.path.join(root, "images")
    with pytest.raises(kd.DataError, match=r"size.png: mask is 9x8 but its image .*size.png is 8x8"):
        kd.read_pair(os.path.join(images, "size.png"), os.path.join(masks, "size.png"), 5)
    with pytest.raises(kd.DataError, match=r"label.png: label values \[9\] are >= num_classes=5"):
        kd.read_pair(os.path.join(images, "label.png"), os.path.join(masks, "label.png"), 5)
    with pytest.raises(kd.DataError, match="truncated.png: cannot read the image"):
        kd.read_pair(os.path.join(images, "truncated.png"), os.path.join(masks, "truncated.png"), 5)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(os.path.join(masks, "rgb.png"))
    with pytest.raises(kd.DataError, match="rgb.png: a mask must be a single-channel index image"):
        kd.read_pair(os.path.join(images, "ok.png"), os.path.join(masks, "rgb.png"), 5)

    # In the pipeline: the error stops it with the file name, or the file is skipped and logged.
    pairs = kd.folder_pairs(root)
    with pytest.raises(tf.errors.OpError, match="label.png"):
        list(kd.segmentation_dataset(pairs, 5, training=False))
    skipped = kd.BadExamples(len(pairs), "folder", max_fraction=1.0)
    kept = list(kd.segmentation_dataset(pairs, 5, training=False, skip_bad_examples=skipped))
    assert len(kept) == 1  # only ok.png survives
    assert sorted(os.path.basename(p) for p in skipped.errors) == ["label.png", "size.png", "truncated.png"]
    # 3 of 4 bad is more than the default share (data.max_bad_fraction = 0.1): stop, naming it
    # the stream ends there, and named_data_errors says why
    with pytest.raises(kd.DataError, match=r"the dataset: [0-9] of 4 examples are bad, more than data.max_bad_fraction=0.1"):
        with kd.named_data_errors():
            list(kd.segmentation_dataset(pairs, 5, training=False, skip_bad_examples=True))
    with pytest.raises(kd.DataError, match=r"label.png: label values \[9\] are >= num_classes=5"):
        with kd.named_data_errors():  # without skipping: the TF error becomes the DataError
            list(kd.segmentation_dataset(kd.folder_pairs(root)[:2], 5, training=False))
