"""What a model's output classes are called and how they are coloured, kept with its exports.

The labels metadata is a JSON object `{"class_names": [...], "palette": [[r, g, b], ...]}`
(one name and one colour per class index). kseg writes it

- into a SavedModel version folder as `assets.extra/labels.json` (TF Serving ignores
  `assets.extra`; clients and `python -m training.predict` read it),
- into an ONNX file's `metadata_props` under `kseg.labels`,
- beside a TFLite file as `<file stem>.labels.json`,

taking it from the training run's `config.yaml` (its resolved `data.class_names` and
`data.palette`) when the exported model is a run folder or a `.keras` file inside one.
"""

import json
import os

import numpy as np
import yaml

from kseg.run_folder import RunFolder


LABELS_FILE = "labels.json"
SAVED_MODEL_LABELS = os.path.join("assets.extra", LABELS_FILE)
ONNX_LABELS_KEY = "kseg.labels"


def labels_metadata(class_names, palette):
    """The metadata dict for `class_names` (C names) and `palette` ((>= C, 3) colours)."""
    colours = np.asarray(palette, np.uint8)[: len(class_names)]
    return {"class_names": [str(name) for name in class_names], "palette": colours.tolist()}


def dataset_labels(spec):
    """The metadata of a resolved `kseg.data.DatasetSpec` (its class names and palette)."""
    from kseg.data.palettes import dataset_palette

    return labels_metadata(spec.class_names, dataset_palette(spec))


def run_labels(model_path):
    """The labels metadata of the training run that `model_path` (a run folder or a file in
    one) belongs to, or None when there is no run config beside it."""
    config_path = RunFolder.of(model_path).config
    if not os.path.isfile(config_path):
        return None
    with open(config_path) as f:
        data = (yaml.safe_load(f) or {}).get("data") or {}
    if not isinstance(data.get("class_names"), list):
        return None  # not a config written by a run (those have the resolved class list)
    from kseg.data.spec import DatasetSpec

    try:
        return dataset_labels(DatasetSpec.from_mapping(data))
    except (ValueError, TypeError) as error:
        raise ValueError(f"{config_path}: {error}") from None


def tflite_labels_path(tflite_path):
    """`model.tflite` -> `model.labels.json`."""
    return os.path.splitext(tflite_path)[0] + ".labels.json"


def read_labels(path):
    """The labels metadata stored with an export -- a SavedModel version folder, an `.onnx`
    file, a `.tflite` file (its sidecar) -- or of the run a `.keras` file or run folder
    belongs to. None when there is none."""
    if path.endswith(".onnx"):
        import onnx

        props = {p.key: p.value for p in onnx.load(path, load_external_data=False).metadata_props}
        return json.loads(props[ONNX_LABELS_KEY]) if ONNX_LABELS_KEY in props else None
    if os.path.isdir(path):
        stored = os.path.join(path, SAVED_MODEL_LABELS)
    else:
        stored = tflite_labels_path(path) if path.endswith(".tflite") else None
    if stored and os.path.isfile(stored):
        with open(stored) as f:
            try:
                return json.load(f)
            except json.JSONDecodeError as error:
                raise ValueError(f"{stored}: not a labels JSON file: {error}") from None
    return run_labels(path)
