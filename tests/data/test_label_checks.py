"""Labels people have (issue 32, item 6): `data.label_map` remaps stored mask values, and a
split of 0/255 masks (255 is the ignore label) is refused before training, saying how to map it."""

import os

import numpy as np
import pytest
from PIL import Image

import kseg.data as kd
from kseg.data.label_checks import refuse_foreground_ignored
from kseg.training.config import ConfigError, dataset_spec, load_config
from tests.cli import run_main


def _binary_folder(root, count=3, foreground=255):
    for split in ("train", "val"):
        for sub in ("images", "masks"):
            os.makedirs(os.path.join(root, split, sub), exist_ok=True)
        for i in range(count):
            image = np.random.default_rng(i).integers(0, 255, (20, 24, 3), np.uint8)
            mask = np.zeros((20, 24), np.uint8)
            mask[5:12, 6:15] = foreground
            Image.fromarray(image).save(os.path.join(root, split, "images", f"{i}.png"))
            Image.fromarray(mask).save(os.path.join(root, split, "masks", f"{i}.png"))
    return str(root)


def _data(root, *overrides):
    return dataset_spec(load_config(overrides=["data.format=folder", f"data.root={root}", "data.num_classes=2", *overrides]))


def test_a_split_of_0_255_masks_is_refused_and_label_map_fixes_it(tmp_path):
    root = _binary_folder(tmp_path / "binary")
    splits = kd.dataset_splits(_data(root))
    with pytest.raises(kd.DataError, match=r"the training split: its masks hold only 0 and 255 .*255 is the ignore label, "
                                           r"so training would see background alone.*--set 'data.label_map=\{255: 1\}'"):
        refuse_foreground_ignored(splits.train_pairs, splits.label_table, "the training split")
    mapped = kd.dataset_splits(_data(root, "data.label_map={255: 1}"))
    refuse_foreground_ignored(mapped.train_pairs, mapped.label_table, "the training split")
    _, mask = kd.read_pair(*mapped.train_pairs[0], 2, mapped.label_table)
    assert set(np.unique(mask)) == {0, 1} and (mask == 1).sum() == 7 * 9
    fine = kd.dataset_splits(_data(_binary_folder(tmp_path / "ones", foreground=1)))
    refuse_foreground_ignored(fine.train_pairs, fine.label_table, "the training split")  # 0/1 masks pass


def test_label_map_goes_over_the_formats_table_and_records_take_it_when_written(tmp_path):
    from kseg.data.formats import with_label_map
    from kseg.data.labels import cityscapes_train_id_table

    table = with_label_map(cityscapes_train_id_table(), {0: 3, 7: 255})
    assert table[0] == 3 and table[7] == 255 and table[8] == cityscapes_train_id_table()[8]
    root = _binary_folder(tmp_path / "binary")
    out = str(tmp_path / "records")
    with pytest.raises(kd.DataError, match=r"split 'train': its masks hold only 0 and 255"):
        kd.write_records(_data(root), out)
    contents = kd.write_records(_data(root, "data.label_map={255: 1}"), out)
    assert contents["splits"]["train"]["examples"] == 3
    with pytest.raises(ConfigError, match=r"data.label_map applies when records are written"):
        load_config(overrides=["data.format=records", f"data.root={out}", "data.label_map={255: 1}"])
    for bad in ("{300: 1}", "{1: -1}", "[1, 2]"):
        with pytest.raises(ConfigError, match=r"data.label_map must be a mapping \{stored value 0-255: training id 0-255\}"):
            load_config(overrides=[f"data.label_map={bad}"])


def test_training_fit_refuses_0_255_masks_in_one_line(tmp_path):
    from training.fit import main

    root = _binary_folder(tmp_path / "binary")
    result = run_main(main, ["--run-dir", str(tmp_path / "run"), "--set", "data.format=folder", "--set", f"data.root={root}",
                             "--set", "data.num_classes=2", "--set", "train.steps=1", "--set", "optimizer.warmup_steps=0"])
    errors = [line for line in result.stderr.splitlines() if "its masks hold only 0 and 255" in line]
    assert result.returncode != 0 and len(errors) == 1, result.stderr[-2000:]
