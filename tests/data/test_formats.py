"""Own class lists: `data.class_names` (a list or a file) for the voc and folder formats, the
class count following from it; the fixed formats keep their count."""

import pytest

from kseg.training.config import ConfigError, dataset_spec, load_config


def test_a_voc_layout_dataset_of_your_own_classes(tmp_path):
    names = tmp_path / "classes.txt"
    names.write_text("# my labelling tool's export\nbackground\ncrack\n\nrust\n")
    data = load_config(overrides=["data.format=voc", "data.root=/x", f"data.class_names={names}"])["data"]
    assert data["num_classes"] == 3 and data["class_names"] == ["background", "crack", "rust"]
    data = load_config(overrides=["data.format=voc", "data.root=/x", "data.num_classes=6"])["data"]
    assert data["class_names"] == [f"class_{i}" for i in range(6)]  # the VOC layout with 6 classes
    voc = load_config(overrides=["data.format=voc", "data.root=/x"])["data"]
    assert voc["num_classes"] == 21 and voc["class_names"][:2] == ["background", "aeroplane"]
    folder = load_config(overrides=["data.format=folder", "data.root=/x", "data.class_names=[sky, road]"])["data"]
    assert folder["num_classes"] == 2


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["data.format=voc", "data.class_names=[a, b, c]", "data.num_classes=4"], "data.num_classes=4 but data.class_names has 3 classes"),
        (["data.format=folder"], "data.format=folder needs data.class_names .* or data.num_classes"),
        (["data.class_names=[a, b]"], "data.class_names has 2 names but the builtin dataset has 5 classes"),
        (["data.num_classes=6"], "data.num_classes=6 but the builtin dataset has 5 classes"),
        (["data.format=voc", "data.class_names=[a, a, b]"], r"data.class_names has repeated names: \['a'\]"),
        (["data.format=voc", "data.class_names=/no/such/file.txt"], "data.class_names: cannot read /no/such/file.txt"),
        (["data.format=voc", "data.class_names=[only]"], "data.class_names must be null, a list of at least 2 names"),
    ],
)
def test_class_list_errors_name_the_keys(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=["data.root=/x"] + overrides)


def test_the_names_reach_the_splits_and_the_reports(data_root):
    from kseg.data import dataset_splits

    config = load_config(overrides=[f"data.root={data_root}", "data.class_names=[bg, a, b, c, d]"])
    assert dataset_splits(dataset_spec(config)).class_names == ("bg", "a", "b", "c", "d")  # the report's per-class rows


def test_an_evaluation_reads_only_the_validation_split(data_root, tmp_path):
    import os
    import shutil

    from kseg.data import DataError, dataset_splits

    root = tmp_path / "val-only"  # a dataset folder holding only what a model is scored on
    shutil.copytree(data_root, root)
    os.remove(root / "ImageSets" / "Segmentation" / "train.txt")
    spec = dataset_spec(load_config(overrides=["data.format=voc", f"data.root={root}", "data.num_classes=5"]))
    splits = dataset_splits(spec, training=False)
    assert splits.train_pairs == [] and len(splits.val_pairs) == len(dataset_splits(dataset_spec(load_config(
        overrides=[f"data.root={data_root}"])), training=False).val_pairs)
    with pytest.raises(DataError, match="VOC split 'train': no list file"):
        dataset_splits(spec)
