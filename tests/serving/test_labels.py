"""Class names and colours kept with exports (kseg/serving/labels.py): from a dataset, read back
from a run's config.yaml or a TFLite sidecar, and a broken file named."""

import json

import pytest
import yaml

from kseg.data.spec import DatasetSpec
from kseg.serving.labels import dataset_labels, read_labels, run_labels, tflite_labels_path


def test_a_datasets_labels_are_one_name_and_one_colour_per_class():
    labels = dataset_labels(DatasetSpec("voc", "/d", class_names=["bg", "cat"], palette=[[0, 0, 0], [9, 8, 7]]))
    assert labels == {"class_names": ["bg", "cat"], "palette": [[0, 0, 0], [9, 8, 7]]}


def test_a_runs_labels_come_from_its_resolved_config(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    assert run_labels(str(run / "model.keras")) is None  # no config beside it
    data = {"format": "voc", "root": "/d", "class_names": ["bg", "cat"], "num_classes": 2, "palette": None, "crop": [8, 8]}
    (run / "config.yaml").write_text(yaml.safe_dump({"data": data}))
    assert read_labels(str(run / "model.keras"))["class_names"] == ["bg", "cat"]
    (run / "config.yaml").write_text(yaml.safe_dump({"data": dict(data, palette=[[1, 2, 3]])}))
    with pytest.raises(ValueError, match=r"config.yaml: data.palette lists 1 colours but there are 2 classes"):
        run_labels(str(run))


def test_a_tflite_files_sidecar_is_read_and_a_broken_one_named(tmp_path):
    model = tmp_path / "model.tflite"
    sidecar = tflite_labels_path(str(model))
    assert sidecar == str(tmp_path / "model.labels.json")
    with open(sidecar, "w") as f:
        json.dump({"class_names": ["a", "b"], "palette": [[0, 0, 0], [1, 1, 1]]}, f)
    assert read_labels(str(model))["class_names"] == ["a", "b"]
    with open(sidecar, "w") as f:
        f.write("{not json")
    with pytest.raises(ValueError, match=r"model.labels.json: not a labels JSON file"):
        read_labels(str(model))
