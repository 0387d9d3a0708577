"""The arguments the commands share (training/common.py, kseg.atomic.local_path): parsed
values, and each misuse as one parser error naming the option."""

import argparse
import importlib
import os
import zipfile

import pytest

from kseg.training.config import dump_config, load_config
from training.common import add_run_arguments, add_test_time_arguments, resolve_run, test_time_options as options_of


def _parser():
    parser = argparse.ArgumentParser(prog="cmd")
    add_test_time_arguments(parser)
    add_run_arguments(parser)
    return parser


def _error(capsys, call):
    with pytest.raises(SystemExit) as stop:
        call()
    assert stop.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_test_time_options_parse_into_the_predictor_arguments():
    parser = _parser()
    args = parser.parse_args(["--scales", "0.5,1,1.5", "--flip", "--fusion", "max", "--precision", "bfloat16"])
    assert options_of(parser, args) == dict(scales=(0.5, 1.0, 1.5), flip=True, fusion="max", sliding_window=None,
                                            stride=None, crf=None, shifted_steps=None, precision="bfloat16")


@pytest.mark.parametrize("argv, message", [
    (["--shifted-steps", "0"], "cmd: error: --shifted-steps must be >= 1. Received: 0"),
    (["--shifted-steps", "2", "--sliding-window", "512"], "cmd: error: --shifted-steps and --sliding-window cannot be combined"),
])
def test_bad_test_time_options_are_parser_errors(capsys, argv, message):
    parser = _parser()
    assert _error(capsys, lambda: options_of(parser, parser.parse_args(argv))) == message


def test_a_run_folder_gives_its_model_and_config_and_split_overrides(tmp_path):
    dump_config(load_config(), str(tmp_path / "config.yaml"))
    zipfile.ZipFile(tmp_path / "model.keras", "w").close()  # only that it can be a .keras file is checked here
    parser = _parser()
    model, config = resolve_run(parser, parser.parse_args(["--run", str(tmp_path), "--split", "train", "--set", "data.batch_size=3"]))
    assert model == str(tmp_path / "model.keras")
    assert config.data.val_split == "train" and config.data.batch_size == 3


def test_run_arguments_that_cannot_work_are_named(capsys, tmp_path):
    parser = _parser()
    assert _error(capsys, lambda: resolve_run(parser, parser.parse_args(["--model", "m.keras"]))).endswith(
        "give --run, or both --model and --config")
    missing = str(tmp_path / "nowhere")
    assert _error(capsys, lambda: resolve_run(parser, parser.parse_args(["--run", missing]))).endswith(
        f"--model: no such file: {missing}/model.keras")
    dump_config(load_config(), str(tmp_path / "config.yaml"))
    (tmp_path / "model.keras").write_bytes(b"half a zip")
    assert _error(capsys, lambda: resolve_run(parser, parser.parse_args(["--run", str(tmp_path)]))) == (
        f"cmd: error: --model: {tmp_path}/model.keras is not a .keras file (not a zip archive: truncated, or another kind of file)")
    zipfile.ZipFile(tmp_path / "model.keras", "w").close()
    assert "Unknown config key 'data.bogus'" in _error(
        capsys, lambda: resolve_run(parser, parser.parse_args(["--run", str(tmp_path), "--set", "data.bogus=1"])))


# Each command's output argument and what it names (kseg.output_paths): local writes are renames
OUTPUTS = [
    ("training.fit", "--run-dir", "folder or URL"), ("training.evaluate", "--out", "folder"), ("training.predict", "--out", "folder"),
    ("training.tune_crf", "--out", "file"), ("export.saved_model", "--out", "folder or URL"), ("export.tflite", "--out", "file"),
    ("kseg.serving.onnx_cli", "--out", "file"), ("export.client", "--out", "either"), ("kseg.__main__", "--out", "folder"),
]


@pytest.mark.parametrize("module, option, kind", [output for output in OUTPUTS if output[2] != "folder or URL"])
def test_an_output_url_is_refused_before_anything_is_written(capsys, tmp_path, monkeypatch, module, option, kind):
    # They wrote gs://bucket/run as a local folder "gs:/bucket/run", or split a run between the
    # two (the checkpoints through TensorFlow, the reports through Python).
    monkeypatch.chdir(tmp_path)
    main = importlib.import_module(module).main
    error = _error(capsys, lambda: main([option, "gs://bucket/run"]))
    assert error.endswith(f"error: argument {option}: gs://bucket/run is a gs:// URL, and this command writes local files "
                          "only (it would make a local folder 'gs:'): write to a local path and copy it over, or mount the "
                          "bucket; training.fit --run-dir, training.make_records --out and export.saved_model --out write to any "
                          "filesystem TensorFlow writes")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("module, option, kind", [output for output in OUTPUTS if output[2] != "either"])
def test_an_output_of_the_wrong_kind_is_refused_before_any_work(capsys, tmp_path, monkeypatch, module, option, kind):
    # They failed with a traceback, the exports after converting the model (IsADirectoryError,
    # NotADirectoryError, FileExistsError)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    main = importlib.import_module(module).main
    wrong, reason = ("afile", "afile is a file; give a folder") if kind.startswith("folder") else ("adir", "adir is a folder; give the path of the file to write")
    assert _error(capsys, lambda: main([option, wrong])).endswith(f"error: argument {option}: {reason}")
    assert _error(capsys, lambda: main([option, "afile/x"])).endswith(
        f"error: argument {option}: afile/x is under {tmp_path / 'afile'}, which is a file, not a folder")
    assert sorted(os.listdir(tmp_path)) == ["adir", "afile"] and (tmp_path / "afile").read_text() == "x"


@pytest.mark.parametrize("module", ["training.evaluate", "training.tune_crf", "training.predict", "export.saved_model",
                                    "export.tflite", "kseg.serving.onnx_cli"])
def test_every_command_reading_a_model_takes_a_url_and_names_one_it_cannot_read(capsys, tmp_path, module):
    # It said "no such file: gs://b/run/model.keras" without looking (kseg/remote_inputs.py)
    main = importlib.import_module(module).main
    option, named = ("--run", "--run") if module in ("training.evaluate", "training.tune_crf") else ("--model", "--model/--run")
    error = _error(capsys, lambda: main([option, f"ram://{tmp_path.name}/none"]))
    assert error.endswith(f"error: argument {named}: no such file or folder: ram://{tmp_path.name}/none"), error
