"""`python -m training.tune_crf` (training/tune_crf.py): DeepLab v2 §4.1.1's search over a
saved run, written whole or not at all; bad arguments and bad data refused in one line. The
search itself is checked in tests/test_crf_tuning.py."""

import json
import os

import pytest

from training.tune_crf import main

SEARCH = ["--images", "2", "--w1", "3,5", "--theta-alpha", "30,60", "--theta-beta", "3", "--rounds", "1", "--iterations", "2"]


def test_every_setting_is_scored_and_the_best_written(saved_run, tmp_path, capsys):
    run, _ = saved_run
    out = tmp_path / "search" / "crf_search.json"
    assert main(["--run", run, *SEARCH, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "without CRF: mIoU=" in printed and printed.count("round 1") == 4
    search = json.loads(out.read_text())
    assert search["images"] == 2 and search["num_iterations"] == 2 and len(search["results"]) == 4
    assert search["best"]["mean_iou"] == max(r["mean_iou"] for r in search["results"])
    assert os.listdir(out.parent) == ["crf_search.json"]  # written under a staging name, then renamed


@pytest.mark.parametrize("arguments, said", [
    (["--rounds", "0"], "--rounds must be >= 1. Received: 0"),
    (["--iterations", "0"], "--iterations must be >= 1. Received: 0"),
    (["--images", "0"], "--images must be >= 1. Received: 0"),
    (["--w1", "3,four"], "argument --w1: expected numbers separated by commas. Received: 3,four"),
    (["--theta-alpha", "0,30"], "argument --theta-alpha: expected numbers > 0. Received: 0,30"),
])
def test_bad_arguments_are_refused_by_name_before_the_model_loads(tmp_path, capsys, arguments, said):
    with pytest.raises(SystemExit) as stopped:
        main(["--run", str(tmp_path / "no-run"), *arguments])
    assert stopped.value.code == 2 and said in capsys.readouterr().err


@pytest.mark.parametrize("overrides, said", [
    (["--split", "nosuch"], "VOC split 'nosuch': no list file"),
    (["--set", "data.format=voc", "--set", "data.root={root}"], "broken.jpg: cannot read the image"),
])
def test_bad_data_is_one_line_and_writes_no_search(saved_run, broken_voc, tmp_path, capsys, overrides, said):
    run, _ = saved_run
    out = tmp_path / "crf_search.json"
    overrides = [o.format(root=broken_voc) for o in overrides]
    assert main(["--run", run, *SEARCH, *overrides, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("python -m training.tune_crf: error: ") and said in err and err.count("\n") == 1
    assert not out.exists()


def test_without_out_the_search_goes_where_the_commands_read_it(saved_run, tmp_path, monkeypatch):
    import shutil

    from kseg.inference.crf_params import tuned_crf_params

    run, _ = saved_run
    folder = tmp_path / "models"  # a model and a config outside any run folder, the command run elsewhere
    folder.mkdir()
    shutil.copy(os.path.join(run, "model.keras"), folder / "model.keras")
    monkeypatch.chdir(tmp_path)
    assert main(["--model", str(folder / "model.keras"), "--config", os.path.join(run, "config.yaml"), *SEARCH]) == 0
    assert os.listdir(tmp_path) == ["models"] and (folder / "crf_search.json").exists()
    params, source = tuned_crf_params(str(folder / "model.keras"))
    assert source == str(folder / "crf_search.json") and set(params) >= {"bilateral_weight", "theta_alpha", "theta_beta"}


def test_a_run_at_a_url_is_read_there_and_gets_its_search_beside_its_model(saved_run_url, tmp_path, monkeypatch):
    from kseg.remote_io import read_text

    url = saved_run_url
    monkeypatch.chdir(tmp_path)
    assert main(["--run", url, *SEARCH]) == 0
    assert os.listdir(tmp_path) == []  # nothing written here: evaluate, predict and the exports read it there
    assert set(json.loads(read_text(f"{url}/crf_search.json"))["best"]) >= {"bilateral_weight", "theta_alpha", "theta_beta"}
