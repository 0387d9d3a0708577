"""`DatasetSpec`: the library's readers take it, not a training config's dict (issue 31 item 2)."""

import dataclasses
import os
import re

import pytest

from kseg.data.spec import DatasetSpec
from kseg.training.config import dataset_spec, load_config
from tests import REPO

ROOT = REPO


def test_fields_are_normalised_and_frozen():
    spec = DatasetSpec("voc", "/d", train_split=["train", "extra"], class_names=["a", "b"], palette=[[1, 2, 3], [4, 5, 6]],
                       label_map={"255": "1"})
    assert spec.train_split == ("train", "extra") and spec.class_names == ("a", "b")
    assert spec.palette == ((1, 2, 3), (4, 5, 6)) and spec.label_map == {255: 1}
    assert spec.splits == ("train", "extra", "val") and DatasetSpec("voc", val_split="train").splits == ("train",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.root = "/elsewhere"
    with pytest.raises(ValueError, match=r"data.format must be one of \['builtin', 'voc', 'cityscapes', 'folder', 'records'\]"):
        DatasetSpec("coco")


def test_a_config_section_gives_its_dataset_fields_only():
    config = load_config(overrides=["data.format=voc", "data.root=/d", "data.val_limit=3", "data.label_map={255: 1}"])
    spec = dataset_spec(config)
    assert (spec.format, spec.root, spec.val_limit, spec.label_map) == ("voc", "/d", 3, {255: 1})
    assert spec.num_classes == 21 and len(spec.class_names) == 21  # resolved when the config was loaded
    assert not hasattr(spec, "crop") and not hasattr(spec, "batch_size")


@pytest.mark.parametrize("function", ["dataset_splits", "write_records"])
def test_a_config_dict_is_refused_by_name(function):
    import kseg.data

    section = load_config(overrides=["data.format=voc", "data.root=/d"])["data"]
    arguments = (section, "/tmp/unused") if function == "write_records" else (section,)
    with pytest.raises(TypeError, match=rf"{function} takes a kseg.data.DatasetSpec \(DatasetSpec.from_mapping"):
        getattr(kseg.data, function)(*arguments)


# The one library module that reads a training config: a run folder's config.yaml, as a file,
# for the labels of a model exported from a run made before runs stored them otherwise.
READS_A_RUN_CONFIG = {"kseg/serving/labels.py"}
SECTIONS = "data|train|model|optimizer|export"
# config["data"], config.get("train"), or a key of a section handed over as `data`: data["root"]
SECTION_READ = re.compile(rf"""\[\s*["']({SECTIONS})["']\s*\]|\.get\(\s*["']({SECTIONS})["']|\bdata(\[|\.get\()\s*["']""")


def test_the_library_outside_the_trainer_reads_no_config_section():
    found = []
    for folder, _, names in os.walk(os.path.join(ROOT, "kseg")):
        for name in names:
            path = os.path.relpath(os.path.join(folder, name), ROOT)
            trainer = path.startswith("kseg/training/") or re.match(r"kseg/models/\w+/(task|config)\.py$", path)
            if not name.endswith(".py") or trainer or path in READS_A_RUN_CONFIG:
                continue
            with open(os.path.join(ROOT, path)) as f:
                found += [f"{path}:{i}" for i, line in enumerate(f, 1) if SECTION_READ.search(line)]
    assert not found, found
