"""`python -m export.saved_model` (export/saved_model.py): a .keras file or run folder to TF
Serving's layout, its errors in one line, and the run's tuned CRF taken and recorded."""

import json
import os

import pytest

from tests.serving.conftest import build_small_net


@pytest.fixture(scope="module")
def small_net():
    return build_small_net()


def test_command_line(small_net, tmp_path, capsys):
    from export.saved_model import main

    model = small_net
    model_path = str(tmp_path / "m.keras")
    model.save(model_path)
    assert main(["--model", model_path, "--out", str(tmp_path / "out"), "--name", "pan", "--size", "64,64"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["saved_model"].endswith(os.path.join("pan", "1"))
    assert main(["--model", model_path, "--out", str(tmp_path / "out"), "--name", "pan", "--version", "1"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["--model", str(tmp_path / "nope.keras"), "--out", str(tmp_path), "--name", "x"]) == 2
    assert "no such model" in capsys.readouterr().err
    assert main(["--model", str(tmp_path), "--out", str(tmp_path), "--name", "x"]) == 2
    assert "without model.keras" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--model", model_path, "--out", str(tmp_path), "--name", "x", "--size", "64"])
    assert "expected H,W" in capsys.readouterr().err


def test_command_line_exports_the_runs_tuned_crf_and_records_it(small_net, tmp_path, capsys):
    from export.saved_model import main

    small_net.save(str(tmp_path / "model.keras"))
    best = {"bilateral_weight": 5.0, "theta_alpha": 30.0, "theta_beta": 3.0, "mean_iou": 0.4}
    (tmp_path / "crf_search.json").write_text(json.dumps({"num_iterations": 3, "best": best}))
    args = ["--model", str(tmp_path / "model.keras"), "--out", str(tmp_path / "out"), "--name", "m", "--crf", "dense",
            "--crf-params", "theta_alpha=35"]
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out)  # stdout stays JSON; the CRF line is on stderr
    with open(os.path.join(printed["saved_model"], "assets.extra", "export.json")) as f:
        recorded = json.load(f)["crf"]
    assert recorded["params"] == {"bilateral_weight": 5.0, "theta_alpha": 35.0, "theta_beta": 3.0, "num_iterations": 3}
    assert recorded["source"] == f"--crf-params over {tmp_path / 'crf_search.json'}"


def test_the_served_name_defaults_to_the_runs(small_net, tmp_path, capsys):
    from export.saved_model import main
    from kseg.training.config import dump_config, load_config

    run = tmp_path / "run"
    run.mkdir()
    small_net.save(str(run / "model.keras"))
    dump_config(load_config(overrides=["data.format=voc", "data.root=/x", "data.num_classes=3"]), str(run / "config.yaml"))
    assert main(["--run", str(run), "--out", str(tmp_path / "out"), "--size", "64,64"]) == 0
    assert json.loads(capsys.readouterr().out)["saved_model"] == str(tmp_path / "out" / "voc_pan" / "1")
    dump_config(load_config(overrides=["name=mine", "export.name=served"]), str(run / "config.yaml"))
    assert main(["--run", str(run), "--out", str(tmp_path / "out"), "--size", "64,64"]) == 0
    assert json.loads(capsys.readouterr().out)["saved_model"] == str(tmp_path / "out" / "served" / "1")

    alone = tmp_path / "alone"
    alone.mkdir()
    small_net.save(str(alone / "m.keras"))
    with pytest.raises(SystemExit):
        main(["--model", str(alone / "m.keras"), "--out", str(tmp_path / "out")])
    assert f"--name: {alone / 'm.keras'} is not in a run folder (no {alone / 'config.yaml'} to take the run's name from): give --name" in capsys.readouterr().err
