"""Models named by a URL (kseg/remote_inputs.py), on TensorFlow's in-memory `ram://`: what is
fetched of a run folder, a model file and a SavedModel folder, and the errors."""

import argparse
import os

import pytest
import tensorflow as tf

from kseg.remote_inputs import fetch, fetched_from, model_input


def _put(url, files):
    for relative, text in files.items():
        tf.io.gfile.makedirs(f"{url}/{relative}".rsplit("/", 1)[0])  # ram:// lists only folders made so
        with tf.io.gfile.GFile(f"{url}/{relative}", "w") as f:
            f.write(text)


def _local(folder):
    return sorted(os.path.relpath(os.path.join(root, name), folder) for root, _, names in os.walk(folder) for name in names)


@pytest.fixture
def run_url(tmp_path):
    url = f"ram://{tmp_path.name}-inputs/runs/x"
    _put(url, {"model.keras": "m", "generator.keras": "g", "config.yaml": "c", "crf_search.json": "s",
               "checkpoints/ckpt-2.index": "i", "eval/metrics.json": "{}", "best/model.keras": "b",
               "serving/x/2/saved_model.pb": "p", "serving/x/2/variables/variables.index": "v"})
    return url


def test_a_run_folder_brings_its_models_config_and_crf_search_only(run_url):
    local = fetch(run_url)
    assert os.path.basename(local) == "x"
    assert _local(local) == ["config.yaml", "crf_search.json", "generator.keras", "model.keras"]
    assert fetched_from(local) == run_url and fetched_from(os.path.join(local, "crf_search.json")) == f"{run_url}/crf_search.json"
    assert fetched_from("/elsewhere/model.keras") is None


def test_a_model_file_brings_what_lies_beside_it_and_a_saved_model_comes_whole(run_url):
    best = fetch(f"{run_url}/best/model.keras")
    assert os.path.basename(best) == "model.keras" and _local(os.path.dirname(best)) == ["model.keras"]
    model = fetch(f"{run_url}/model.keras")
    assert _local(os.path.dirname(model)) == ["config.yaml", "crf_search.json", "model.keras"]
    assert fetched_from(os.path.join(os.path.dirname(model), "crf_search.json")) == f"{run_url}/crf_search.json"
    saved = fetch(f"{run_url}/serving/x/2/")
    assert _local(saved) == ["saved_model.pb", os.path.join("variables", "variables.index")]


def test_local_paths_pass_and_a_url_that_cannot_be_read_is_named(tmp_path):
    assert model_input("runs/x") == "runs/x"
    with pytest.raises(argparse.ArgumentTypeError, match=rf"^no such file or folder: ram://{tmp_path.name}/none$"):
        model_input(f"ram://{tmp_path.name}/none")
    _put(f"ram://{tmp_path.name}/unfinished", {"config.yaml": "c", "checkpoints/checkpoint": "c"})
    with pytest.raises(argparse.ArgumentTypeError, match=(
            rf"^ram://{tmp_path.name}/unfinished holds no .keras model and no SavedModel \(is it a finished training run\?\)$")):
        model_input(f"ram://{tmp_path.name}/unfinished")
    with pytest.raises(argparse.ArgumentTypeError, match=r"^s3://b/run: File system scheme 's3' not implemented"):
        model_input("s3://b/run")
