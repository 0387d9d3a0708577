"""A run folder met again (kseg/training/run_dir.py): a resume refuses another model in one line
naming what changed, applies other changes, and clears an interrupted run's litter."""

import os
import socket
import subprocess
import sys

import pytest

from kseg.training.config import ConfigError, load_config
from tests.tiny import TINY


def test_resume_refuses_another_model_and_applies_other_changes(tmp_path, data_root):
    from kseg.training.runner import train

    run_dir = str(tmp_path / "run")
    base = TINY + [f"data.root={data_root}"]
    train(load_config(overrides=base + ["train.steps=2"]), run_dir, verbose=0)
    # litter of an interrupted run: a checkpoint TF was still writing, a staging file
    os.makedirs(os.path.join(run_dir, "checkpoints", "ckpt-4_temp"))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    staging = os.path.join(run_dir, f".model.keras.tmp-{dead.stdout.strip()}@{socket.gethostname().replace('-', '_')}-0a1b.keras")
    open(staging, "w").close()
    with pytest.raises(ConfigError) as error:
        changed = ["train.steps=4", "model.options={decoder_filters: 16}", "data.format=voc", "data.num_classes=6"]  # VOC layout
        train(load_config(overrides=base + changed), run_dir, verbose=0)
    message = str(error.value)
    assert "holds checkpoints of another model" in message and "\n" not in message
    assert "data.num_classes: 5 -> 6" in message and "model.options.decoder_filters: 32 -> 16" in message
    assert not os.path.exists(staging) and not os.path.exists(os.path.join(run_dir, "checkpoints", "ckpt-4_temp"))
    result = train(load_config(overrides=base + ["train.steps=4", "optimizer.momentum=0.5"]), run_dir, verbose=0)
    assert result["steps"] == 4
