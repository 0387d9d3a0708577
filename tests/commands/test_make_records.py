"""`python -m training.make_records` (training/make_records.py): a rerun reuses finished
records only when they are the same conversion, and bad arguments are refused by name. The
records themselves are checked in tests/data/test_records.py."""

import os

import numpy as np
import pytest
from PIL import Image

from training.make_records import main


def _voc(root):
    """A VOC-layout folder: two training and one validation picture of 8x8, classes 0-2."""
    for folder in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        os.makedirs(root / folder)
    for i, name in enumerate(("a", "b", "c")):
        Image.fromarray(np.full((8, 8, 3), 60 * i, np.uint8)).save(root / "JPEGImages" / f"{name}.jpg")
        Image.fromarray(np.full((8, 8), i, np.uint8)).save(root / "SegmentationClass" / f"{name}.png")
    (root / "ImageSets" / "Segmentation" / "train.txt").write_text("a\nb\n")
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text("c\n")
    return ["--set", "data.format=voc", "--set", f"data.root={root}", "--set", "data.class_names=[sky, road, car]"]


@pytest.mark.parametrize("change, said", [
    (["--set", "data.class_names=[sky, road, bus]"], "class_names ['sky', 'road', 'car'] there, ['sky', 'road', 'bus'] asked"),
    (["--set", "data.train_split=[val]"], "splits ['train', 'val'] there, ['val'] asked"),
    (["--set", "data.root={other}"], "'root': '{root}', 'label_map': {{}}, 'mask_colours': False}} there"),
    (["--set", "data.label_map={{2: 1}}"], "'label_map': {{'2': 1}}, 'mask_colours': False}} asked"),
])
def test_a_rerun_of_another_conversion_into_finished_records_is_refused(tmp_path, capsys, change, said):
    source = _voc(tmp_path / "voc")
    _voc(tmp_path / "other")
    out = tmp_path / "records"
    assert main([*source, "--out", str(out), "--quiet"]) == 0
    assert main([*source, "--out", str(out), "--quiet"]) == 0  # the same conversion: nothing to do
    assert "already holds finished records" in capsys.readouterr().out
    before = sorted(os.listdir(out)), (out / "dataset.json").read_text()
    change = [c.format(other=tmp_path / "other") for c in change]
    assert main([*source, *change, "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"python -m training.make_records: error: {out} holds finished records of another conversion")
    assert said.format(root=tmp_path / "voc") in err and err.count("\n") == 1
    assert (sorted(os.listdir(out)), (out / "dataset.json").read_text()) == before


@pytest.mark.parametrize("arguments, status, said", [
    (["--shard-mb", "0"], 2, "--shard-mb must be > 0. Received: 0.0"),
    (["--set", "data.nosuch=1"], 2, "data.nosuch"),
    (["--set", "data.format=records", "--set", "data.root=/somewhere"], 2, "data.root /somewhere holds no dataset.json"),
])
def test_bad_arguments_are_one_line(tmp_path, capsys, arguments, status, said):
    try:
        assert main([*arguments, "--out", str(tmp_path / "records")]) == status
    except SystemExit as stopped:
        assert stopped.code == status
    err = capsys.readouterr().err
    assert said in err and not os.path.exists(tmp_path / "records")
