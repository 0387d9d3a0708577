"""`python -m export.tflite` (export/tflite.py): a bad argument is one line and nothing is written."""

import os

import pytest

from export.tflite import main


def test_command_names_a_bad_size_and_writes_nothing(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", "x.keras", "--out", str(tmp_path / "m.tflite"), "--size", "256"])
    assert exit_info.value.code == 2 and "--size: expected H,W" in capsys.readouterr().err
    assert main(["--model", str(tmp_path / "missing.keras"), "--out", str(tmp_path / "m.tflite")]) == 2
    assert "missing.keras" in capsys.readouterr().err and not os.listdir(tmp_path)
