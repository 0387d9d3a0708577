"""`benchmarks/device.py --tiny` runs on the CPU: every case prints its JSON line with the
device's name, so the script that would be run on a lent GPU does not rot."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_device_benchmark_prints_every_case():
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "device.py"), "--tiny"],
        capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
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
