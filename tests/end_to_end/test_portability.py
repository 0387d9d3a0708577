"""Every architecture trains one step and infers in float32 and bfloat16 on TensorFlow's Eigen
CPU kernels (oneDNN off: most AMD CPUs, older Intel ones) and on oneDNN's, whatever CPU the
suite runs on: each setting in its own child process, since TensorFlow reads
`TF_ENABLE_ONEDNN_OPTS` when it loads. Both children start from the same weights, so their
losses must agree too."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.end_to_end.portability_check import CASES, RECIPES
from tests import REPO

ROOT = REPO
# One xdist worker runs the module, so the two children run once (each worker would run its own).
pytestmark = pytest.mark.xdist_group("portability")


def _run_children(*args, timeout=900):
    """{oneDNN setting: {case: result}} of `portability_check *args`, both settings' children side by side."""
    children = {}
    for setting in ("0", "1"):
        env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=setting, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
        children[setting] = subprocess.Popen(
            [sys.executable, "-m", "tests.end_to_end.portability_check", *args], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
    found = {}
    for setting, child in children.items():
        out, err = child.communicate(timeout=timeout)
        assert child.returncode == 0, f"TF_ENABLE_ONEDNN_OPTS={setting}:\n{err[-3000:]}"
        found[setting] = {line["case"]: line for line in map(json.loads, out.splitlines()) if line}
    return found


@pytest.fixture(scope="module")
def results():
    return _run_children()


def _check_trained(cases, names, setting):
    cases = {name: case for name, case in cases.items() if name in names}
    assert sorted(cases) == sorted(names)
    assert {case["onednn"] for case in cases.values()} == {setting == "1"}
    for name, case in cases.items():
        assert all(np.isfinite(value) for value in case["loss"].values()), (name, case)
        assert case["changed"] >= case["variables"] - 1, (name, case)  # every trained weight moves (PAN: one gets no gradient)
        assert case["finite"] and case["bfloat16_compute"] == "bfloat16", (name, case)


@pytest.mark.parametrize("setting", ["0", "1"])
def test_every_architecture_trains_and_infers(results, setting):
    _check_trained(results[setting], CASES, setting)


@pytest.mark.large
def test_every_paper_recipe_trains_and_infers_at_full_size_on_both_kernels():
    # The recipes' own widths, depths, rates and output strides (random weights, 64x64 images): what
    # the tiny cases stand for, each setting once (about 3 minutes a child on 2 cores).
    found = _run_children("--recipes", timeout=1800)
    for setting, cases in found.items():
        _check_trained(cases, RECIPES, setting)


def test_oneDNN_and_Eigen_train_alike(results):
    for name in CASES:
        eigen, onednn = results["0"][name]["loss"], results["1"][name]["loss"]
        assert sorted(eigen) == sorted(onednn)
        for key in eigen:
            np.testing.assert_allclose(eigen[key], onednn[key], rtol=1e-3, err_msg=f"{name} {key}")


def test_auto_precision_is_float32_without_oneDNN_even_on_bfloat16_units(results):
    assert results["0"]["auto_precision"]["precision"] == "float32"
