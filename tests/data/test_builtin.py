"""The built-in dataset (kseg/data/builtin.py, drawn by kseg/data/synthetic.py): a deterministic
VOC layout, validation photos training never sees, textures that carry the class, a coarse split;
generated only into the cache or an empty folder, never over a user's files."""

import os

import numpy as np
import pytest

import kseg.data as kd
from kseg.data.builtin import SIZE, SPLITS, make_example
from kseg.data.synthetic import PHOTOS


def test_builtin_format_generates_only_into_the_cache_or_an_empty_folder(tmp_path, monkeypatch):
    from kseg.data import DataError, builtin, builtin_root

    monkeypatch.setattr(builtin, "SPLITS", {"train": 3, "val": 2, "coarse": 2})  # the folder logic, not the pictures

    with pytest.raises(DataError, match=r"data.root=.*nowhere: no such folder.*set data.format"):
        builtin_root(str(tmp_path / "nowhere"))
    real = tmp_path / "VOCdevkit"
    (real / "JPEGImages").mkdir(parents=True)
    with pytest.raises(DataError, match="holds files but not the built-in dataset: for your own data set data.format"):
        builtin_root(str(real))
    assert os.listdir(real) == ["JPEGImages"]  # untouched
    empty = tmp_path / "empty"
    empty.mkdir()
    root = builtin_root(str(empty))
    assert root == str(empty) and os.path.isfile(empty / "COMPLETE")
    assert builtin_root(root) == root  # used as it is the next time


def test_builtin_dataset_is_deterministic_voc_layout(data_root):
    train = kd.voc_pairs(data_root, "train")
    val = kd.voc_pairs(data_root, "val")
    assert (len(train), len(val)) == (SPLITS["train"], SPLITS["val"])
    image, mask = kd.read_pair(*train[0], num_classes=5)
    assert image.shape == (SIZE, SIZE, 3) and mask.shape == (SIZE, SIZE)
    assert set(np.unique(mask)) <= set(range(5))
    np.testing.assert_array_equal(make_example(0, split="train")[1], mask)  # regenerated: the same picture
    np.testing.assert_array_equal(make_example(0, split="train")[0], make_example(0, split="train")[0])
    masks = np.stack([kd.read_pair(*p, num_classes=5)[1] for p in train[:64]])
    assert set(np.unique(masks)) == set(range(5))


def test_builtin_validation_backgrounds_are_photos_training_never_saw():
    assert not set(PHOTOS["train"]) & set(PHOTOS["val"])
    index = SPLITS["train"]  # the first val picture
    val_image, val_mask = make_example(index, split="val")
    train_image, _ = make_example(index, split="train")
    background = val_mask == 0
    assert background.mean() > 0.3 and np.abs(val_image[background].astype(int) - train_image[background]).mean() > 10


def test_builtin_textures_carry_the_class_not_the_colour():
    """Mean colours of the four texture classes over many objects are alike (colour does not
    tell the class), and each texture's pattern differs: its horizontal/vertical edge energy."""
    from kseg.data.synthetic import texture

    rng = np.random.RandomState(0)
    energy = {}
    for kind in range(1, 5):
        patterns = [texture(rng, kind, 64) for _ in range(40)]
        energy[kind] = np.mean([np.abs(np.diff(p, axis=1)).mean() + np.abs(np.diff(p, axis=0)).mean() for p in patterns])
    assert energy[4] > max(energy[1], energy[3])  # speckle: the most edges per pixel
    colours = {k: [] for k in range(1, 5)}
    for index in range(48):
        image, mask = make_example(index)
        for kind in range(1, 5):
            if (mask == kind).sum() > 200:
                colours[kind].append(image[mask == kind].mean(0))
    means = np.array([np.mean(colours[k], 0) for k in range(1, 5)])
    assert np.ptp(means, axis=0).max() < 40


def test_builtin_coarse_split_loses_the_contours_and_keeps_the_regions(data_root):
    coarse = kd.voc_pairs(data_root, "coarse")
    assert len(coarse) == 256 and not set(p[0] for p in coarse) & set(p[0] for p in kd.voc_pairs(data_root, "train"))
    name = os.path.splitext(os.path.basename(coarse[0][0]))[0]
    index = int(name.split("_")[1])
    _, fine = make_example(index, split="coarse")
    _, mask = kd.read_pair(*coarse[0], num_classes=5)
    labelled = mask != 255
    np.testing.assert_array_equal(mask[labelled], fine[labelled])  # what is labelled is right
    # Ignored exactly where a 7x7 window (band 3) sees another label: NumPy loop reference.
    band = 3
    expected = np.zeros_like(labelled)
    for y in range(SIZE):
        for x in range(SIZE):
            window = fine[max(0, y - band) : y + band + 1, max(0, x - band) : x + band + 1]
            expected[y, x] = (window != fine[y, x]).any()
    np.testing.assert_array_equal(~labelled, expected)
    assert 0.0 < (~labelled).mean() < 0.5
