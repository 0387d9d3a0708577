import json
import os

import keras
import numpy as np
import pytest
from PIL import Image

import kseg
from kseg.data.builtin import SIZE
from kseg.training.evaluation import evaluate_dataset
from training.evaluate import main


def test_evaluate_plain_matches_direct_computation(saved_run):
    run, config = saved_run
    assert main(["--run", run, "--save-predictions", "2", "--out", os.path.join(run, "plain")]) == 0
    with open(os.path.join(run, "plain", "metrics.json")) as f:
        report = json.load(f)
    model = keras.saving.load_model(os.path.join(run, "model.keras"))
    pairs = kseg.data.voc_pairs(config["data"]["root"], "val")[:6]
    expected = evaluate_dataset(model, kseg.data.segmentation_dataset(pairs, 5, training=False), 5)
    assert report["mean_iou"] == pytest.approx(expected["mean_iou"], abs=1e-6) and report["compute_dtype"] == "float32"
    assert np.asarray(report["confusion_matrix"]).sum() == 6 * SIZE * SIZE
    width, height = Image.open(os.path.join(run, "plain", "confusion_matrix.png")).size
    assert width > 5 * 40 and height > 5 * 40  # cells of 40 px with names beside and above
    assert sorted(os.listdir(os.path.join(run, "plain", "predictions"))) == [
        "0000_overlay.png", "0000_panel.png", "0000_pred.png", "0001_overlay.png", "0001_panel.png", "0001_pred.png"
    ]
    panel = Image.open(os.path.join(run, "plain", "predictions", "0000_panel.png"))
    assert panel.size[0] == 4 * SIZE + 12 and panel.size[1] > SIZE
    assert "| stripes |" in open(os.path.join(run, "plain", "metrics.md")).read()


def test_evaluate_with_tta_sliding_window_and_crf(saved_run, capsys):
    run, _ = saved_run
    out = os.path.join(run, "tta")
    args = ["--run", run, "--scales", "0.75,1.0", "--flip", "--sliding-window", "96", "--stride", "64",
            "--crf", "dense", "--save-predictions", "0", "--out", out]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out.split("\n\nmIoU")[0])
    assert 0.0 <= summary["mean_iou"] <= 1.0 and summary["images"] == 6


def test_evaluate_argument_errors(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([])
    assert "give --run" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--run", str(tmp_path)])
    assert "no such file" in capsys.readouterr().err


def test_the_runs_tuned_crf_is_used_printed_recorded_and_overridable(saved_run, tmp_path, capsys):
    # DeepLab v2 §4.1.1: tune on val (training.tune_crf writes <run>/crf_search.json), then apply
    import shutil

    from kseg.inference import predictor
    from kseg.layers.crf import make_crf

    run, config = saved_run
    tuned_run = str(tmp_path / "tuned")
    shutil.copytree(run, tuned_run, ignore=shutil.ignore_patterns("plain", "tta"))
    best = {"bilateral_weight": 6.0, "theta_alpha": 40.0, "theta_beta": 4.0, "round": 2, "mean_iou": 0.5}
    with open(os.path.join(tuned_run, "crf_search.json"), "w") as f:
        json.dump({"images": 6, "num_iterations": 2, "best": best, "results": [best]}, f)
    tuned = {"bilateral_weight": 6.0, "theta_alpha": 40.0, "theta_beta": 4.0, "num_iterations": 2}
    model = keras.saving.load_model(os.path.join(run, "model.keras"))
    pairs = kseg.data.voc_pairs(config["data"]["root"], "val")[:2]
    for extra, params in ([], tuned), (["--crf-params", "theta_beta=9"], {**tuned, "theta_beta": 9.0}):
        out = os.path.join(tuned_run, f"eval{len(extra)}")
        assert main(["--run", tuned_run, "--crf", "dense", "--images", "2", "--save-predictions", "0", "--out", out] + extra) == 0
        line = [text for text in capsys.readouterr().err.splitlines() if text.startswith("crf dense:")]
        assert line == [f"crf dense: bilateral_weight={params['bilateral_weight']:g} theta_alpha={params['theta_alpha']:g} "
                        f"theta_beta={params['theta_beta']:g} num_iterations=2 (from "
                        f"{'--crf-params over ' if extra else ''}{os.path.join(tuned_run, 'crf_search.json')})"]
        with open(os.path.join(out, "metrics.json")) as f:
            report = json.load(f)
        assert report["crf"]["params"] == params
        forward = predictor(model, crf=make_crf("dense", **params))
        expected = evaluate_dataset(model, kseg.data.segmentation_dataset(pairs, 5, training=False), 5, forward=forward)
        assert report["mean_iou"] == pytest.approx(expected["mean_iou"], abs=1e-6)
    with pytest.raises(SystemExit):
        main(["--run", tuned_run, "--crf", "dense", "--crf-params", "theta_zeta=1", "--out", str(tmp_path / "x")])
    assert "--crf-params: 'theta_zeta' is not an argument of the dense CRF" in capsys.readouterr().err


def test_a_new_evaluation_replaces_the_pictures_and_a_failed_one_keeps_the_last_report(saved_run, broken_voc, tmp_path, capsys):
    run, _ = saved_run
    out = str(tmp_path / "eval")
    assert main(["--run", run, "--images", "3", "--save-predictions", "3", "--out", out]) == 0
    assert main(["--run", run, "--images", "2", "--save-predictions", "1", "--out", out]) == 0
    assert sorted(os.listdir(os.path.join(out, "predictions"))) == ["0000_overlay.png", "0000_panel.png", "0000_pred.png"]
    before = {name: open(os.path.join(out, name), "rb").read() for name in ("metrics.json", "metrics.md")}
    broken = ["--set", "data.format=voc", "--set", f"data.root={broken_voc}", "--set", "data.val_limit=null"]
    assert main(["--run", run, *broken, "--save-predictions", "2", "--out", out]) == 1  # fails on its second image
    assert "broken.jpg: cannot read the image" in capsys.readouterr().err
    assert {name: open(os.path.join(out, name), "rb").read() for name in before} == before
    assert sorted(os.listdir(out)) == ["confusion_matrix.png", "metrics.json", "metrics.md", "predictions"]  # no staging left
    assert len(os.listdir(os.path.join(out, "predictions"))) == 3


def test_a_run_at_a_url_is_scored_like_its_local_copy_with_the_report_here(saved_run, saved_run_url, tmp_path, monkeypatch):
    run, _ = saved_run
    monkeypatch.chdir(tmp_path)
    assert main(["--run", saved_run_url, "--save-predictions", "0", "--precision", "bfloat16"]) == 0
    assert main(["--run", run, "--save-predictions", "0", "--out", str(tmp_path / "local"), "--precision", "bfloat16"]) == 0
    with open(tmp_path / "eval" / "metrics.json") as f, open(tmp_path / "local" / "metrics.json") as g:
        remote, local = json.load(f), json.load(g)
    assert remote["mean_iou"] == local["mean_iou"] and remote["compute_dtype"] == "bfloat16"
