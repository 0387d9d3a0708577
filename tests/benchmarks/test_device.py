"""`benchmarks/device.py --tiny` runs on the CPU: every case prints its JSON line with the
device's name, so the script that would be run on a lent GPU does not rot."""

import importlib.util
import json
import os
from tests import REPO

ROOT = REPO


def test_device_benchmark_prints_every_case(capsys):
    spec = importlib.util.spec_from_file_location("device_benchmark", os.path.join(ROOT, "benchmarks", "device.py"))
    device = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(device)
    device.main(["--tiny"])  # in this process: a fresh interpreter would add ~6 s of imports
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    cases = {(row["case"], row.get("precision")) for row in rows}
    assert cases == {
        ("pan_forward_and_train_step", "float32"), ("pan_forward_and_train_step", "mixed_bfloat16"),
        ("pan_forward_and_train_step", "mixed_float16"), ("densecrf", None), ("convcrf", None),
    }
    for row in rows:
        assert row["device_type"] in ("CPU", "GPU") and row["device"]
        if row["case"] == "pan_forward_and_train_step" and row["precision"] != "mixed_float16":
            assert "error" not in row and row["forward_s"] > 0 and row["train_step_s"] > 0 and row["loss"] > 0
        if row["case"] != "pan_forward_and_train_step":
            assert row["eager_s"] > 0 and row["tf_function_s"] > 0
