"""Which CRF parameters a command uses (kseg/inference/crf_params.py): the run's tuned ones
(`crf_search.json`), overridden by `--crf-params`, else the layer's defaults."""

import json

import pytest

from kseg.inference.crf_params import crf_settings, describe, parse_crf_params


def test_params_are_the_layers_arguments_as_numbers():
    assert parse_crf_params("bilateral_weight=4, theta_alpha=121,num_iterations=10.0", "dense") == {
        "bilateral_weight": 4.0, "theta_alpha": 121.0, "num_iterations": 10,
    }
    with pytest.raises(ValueError, match=r"--crf-params: 'theta' is not an argument of the dense CRF; it takes .*theta_alpha"):
        parse_crf_params("theta=3", "dense")
    with pytest.raises(ValueError, match=r"--crf-params: 'theta_alpha=wide' is not name=number"):
        parse_crf_params("theta_alpha=wide", "dense")


def test_the_runs_tuned_params_are_used_and_given_ones_win(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    model = str(run / "model.keras")
    assert crf_settings("dense", model) == {"crf": "dense", "params": {}, "source": "the layer's defaults"}
    best = {"bilateral_weight": 4, "theta_alpha": 121, "theta_beta": 5, "miou": 0.7}
    (run / "crf_search.json").write_text(json.dumps({"best": best, "num_iterations": 10}))
    tuned = crf_settings("dense", model)
    assert tuned["params"] == {"bilateral_weight": 4, "theta_alpha": 121, "theta_beta": 5, "num_iterations": 10}
    assert describe(tuned) == f"crf dense: bilateral_weight=4 theta_alpha=121 theta_beta=5 num_iterations=10 (from {run / 'crf_search.json'})"
    given = crf_settings("dense", model, "theta_beta=3")
    assert given["params"]["theta_beta"] == 3.0 and given["source"] == f"--crf-params over {run / 'crf_search.json'}"
    assert crf_settings("conv", model)["params"] == {}  # the search tunes the DenseCRF only
    with pytest.raises(ValueError, match="--crf-params needs --crf"):
        crf_settings(None, model, "theta_beta=3")
    (run / "crf_search.json").write_text("{}")
    with pytest.raises(ValueError, match=r"crf_search.json: not a training.tune_crf result"):
        crf_settings("dense", model)
