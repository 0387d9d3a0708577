"""Benchmark submissions (issue 32, item 8): Cityscapes `*_labelIds.png` from train ids, and
VOC lists of path pairs (DeepLab's `train_aug.txt` over SBD's `SegmentationClassAug`)."""

import os

import numpy as np
import pytest
from PIL import Image

import kseg.data as kd
from kseg.data.labels import LABEL_ID_TABLES, cityscapes_label_id_table, cityscapes_train_id_table
from kseg.inference.images import predict_files


def test_label_ids_map_train_ids_back_to_what_the_cityscapes_server_scores():
    back, forward = cityscapes_label_id_table(), cityscapes_train_id_table()
    assert [int(back[t]) for t in range(19)] == [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]
    assert all(forward[back[t]] == t for t in range(19)) and back[255] == 0
    assert LABEL_ID_TABLES["cityscapes"].table is cityscapes_label_id_table and len(LABEL_ID_TABLES["cityscapes"].classes) == 19


def test_predict_files_writes_label_ids_next_to_the_palette_png(tmp_path):
    picture = tmp_path / "berlin_000000_000019_leftImg8bit.png"
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(picture)
    labels = np.array([[0, 1, 2, 13, 18, 255]] * 4, np.uint8)
    result = predict_files(lambda images: labels[None], [str(picture)], str(tmp_path / "out"),
                           label_ids=cityscapes_label_id_table())
    assert len(result["written"]) == 1
    written = np.asarray(Image.open(tmp_path / "out" / "berlin_000000_000019_leftImg8bit_labelIds.png"))
    np.testing.assert_array_equal(written[0], [7, 8, 11, 26, 33, 0])
    assert Image.open(tmp_path / "out" / "berlin_000000_000019_leftImg8bit_labelIds.png").mode == "L"


def test_voc_lists_of_path_pairs_read_sbds_augmented_masks(tmp_path):
    root = tmp_path / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClassAug", os.path.join("ImageSets", "Segmentation")):
        os.makedirs(root / sub)
    for name in ("2007_000032", "2008_000123"):
        Image.fromarray(np.zeros((5, 5, 3), np.uint8)).save(root / "JPEGImages" / f"{name}.jpg")
        Image.fromarray(np.ones((5, 5), np.uint8)).save(root / "SegmentationClassAug" / f"{name}.png")
    lines = "/JPEGImages/2007_000032.jpg /SegmentationClassAug/2007_000032.png\nJPEGImages/2008_000123.jpg SegmentationClassAug/2008_000123.png\n"
    (root / "ImageSets" / "Segmentation" / "train_aug.txt").write_text(lines)
    pairs = kd.voc_pairs(str(root), "train_aug")
    assert pairs == [(str(root / "JPEGImages" / f"{n}.jpg"), str(root / "SegmentationClassAug" / f"{n}.png"))
                     for n in ("2007_000032", "2008_000123")]
    (root / "ImageSets" / "Segmentation" / "bad.txt").write_text("/JPEGImages/x.jpg /SegmentationClassAug/x.png\n")
    with pytest.raises(kd.DataError, match=r"bad.txt names '/JPEGImages/x.jpg /SegmentationClassAug/x.png' but .*x.jpg does not exist"):
        kd.voc_pairs(str(root), "bad")
