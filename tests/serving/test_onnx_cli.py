"""`python -m export.onnx` (kseg/serving/onnx_cli.py): the command's output and exit codes, and
`export_in_subprocess`, which a training run uses so that a failed export is reported, not raised."""

import json

import pytest

pytest.importorskip("onnxruntime")


def test_command_line(small_net, tmp_path, capsys):
    from export.onnx import main

    model_path = str(tmp_path / "m.keras")
    small_net.save(model_path)
    assert main(["--model", model_path, "--out", str(tmp_path / "m.onnx"), "--opset", "18"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["opset"] == 18 and printed["verification"]["ok"]
    assert main(["--model", str(tmp_path / "missing"), "--out", str(tmp_path / "x.onnx")]) == 2
    assert "no such model" in capsys.readouterr().err


def test_export_in_subprocess_reports_failures_instead_of_raising(tmp_path):
    from kseg.serving.onnx_cli import export_in_subprocess

    out = tmp_path / "m.onnx"
    result = export_in_subprocess(str(tmp_path / "missing.keras"), str(out))
    assert result["error"].startswith("the ONNX export process failed (exit 2): error: no such model:")
    assert "missing.keras" in result["error"] and not out.exists()
