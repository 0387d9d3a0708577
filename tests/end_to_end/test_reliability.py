"""training.fit as a user meets it when things go wrong: diverged losses, bad files, a busy
or reused run folder, bad config values, litter from interrupted runs."""

import json
import os
import re
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from kseg.training.config import load_config
from tests.cli import run_main
from tests.tiny import TINY
from tests import REPO

FAST = TINY + ["train.checkpoint_every=2"]  # no exports: the diverged-run test turns the SavedModel on


def _fit(run_dir, settings, timeout=600):
    command = [sys.executable, "-m", "training.fit", "--quiet", "--run-dir", str(run_dir)]
    for item in settings:
        command += ["--set", item]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def _fit_here(run_dir, settings):
    """`_fit` in this process, for runs that stop before reading data (tests/cli.py)."""
    from training.fit import main

    return run_main(main, ["--quiet", "--run-dir", str(run_dir)] + [a for item in settings for a in ("--set", item)])


def _error_line(result):
    """The one line a failed command prints about its error (the last line of stderr)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return lines[-1]


def test_a_diverged_run_saves_nothing_and_a_sane_rerun_resumes_from_the_last_good_checkpoint(tmp_path, data_root, capsys):
    from kseg.training.runner import train

    run_dir = tmp_path / "run"
    sane = FAST + [f"data.root={data_root}", "export.saved_model=true", "export.name=shapes"]
    first = train(load_config(overrides=sane + ["train.steps=2"]), str(run_dir), verbose=0)
    served = run_dir / "serving"
    before = {p: (run_dir / p).read_bytes() for p in ("model.keras", "serving/models.config", "result.json", "config.yaml")}
    assert sorted(os.listdir(served / "shapes")) == ["2"]

    # One chunk from step 2 to 6 (no checkpoint in between): the rate explodes the weights.
    longer = sane + ["train.steps=6", "train.checkpoint_every=6"]
    diverged = _fit(run_dir, longer + ["optimizer.learning_rate=1e8"])
    assert diverged.returncode == 1, diverged.stderr[-3000:]
    line = _error_line(diverged)
    assert re.search(r"training diverged by step [3-6] \((loss=nan|non-finite weights)\); no model was saved, evaluated or exported", line), line
    assert f"the last good checkpoint is {os.path.join(str(run_dir), 'checkpoints', 'ckpt-2')}" in line
    # Nothing replaced: the model, the served versions, models.config, the result.
    assert {p: (run_dir / p).read_bytes() for p in before} == before
    assert sorted(os.listdir(served / "shapes")) == ["2"]
    import tensorflow as tf

    assert tf.train.latest_checkpoint(str(run_dir / "checkpoints")).endswith("ckpt-2")

    capsys.readouterr()
    train(load_config(overrides=longer), str(run_dir), verbose=0)  # the sane rerun, here: a process less
    printed = capsys.readouterr().out
    assert "(step 2)" in printed and "train.steps: 2 -> 6" in printed
    with open(run_dir / "result.json") as f:
        result = json.load(f)
    assert result["steps"] == 6 and np.isfinite(result["final_train_loss"]) and first["steps"] == 2
    assert sorted(os.listdir(served / "shapes")) == ["2", "6"]
    # What training wrote is readable by others (a TF Serving container as another user)
    # and loads in a fresh process that imports only kseg and keras.
    umask = os.umask(0)
    os.umask(umask)
    for name in ("model.keras", "result.json", "config.yaml", os.path.join("serving", "models.config")):
        assert os.stat(run_dir / name).st_mode & 0o777 == 0o666 & ~umask, name
    load = subprocess.run(
        [sys.executable, "-c", "import sys, keras, kseg; m = keras.saving.load_model(sys.argv[1]); print(type(m.optimizer).__name__)",
         str(run_dir / "model.keras")],
        capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, cwd=str(tmp_path),
    )
    assert load.returncode == 0 and load.stdout.strip() == "CoupledWeightDecaySGD", load.stderr[-2000:]


def _folder_dataset(root, good=0, bad=0):
    for split in ("train", "val"):
        images, masks = os.path.join(root, split, "images"), os.path.join(root, split, "masks")
        os.makedirs(images)
        os.makedirs(masks)
        for i in range(good):
            Image.fromarray(np.full((32, 32, 3), 25 * i, np.uint8)).save(os.path.join(images, f"good{i}.png"))
            Image.fromarray(np.zeros((32, 32), np.uint8)).save(os.path.join(masks, f"good{i}.png"))
        for i in range(bad):
            with open(os.path.join(images, f"bad{i}.png"), "wb") as f:
                f.write(b"not a png")
            Image.fromarray(np.zeros((32, 32), np.uint8)).save(os.path.join(masks, f"bad{i}.png"))
    return root


def test_skip_bad_examples_stops_on_a_split_of_bad_files(tmp_path):
    root = _folder_dataset(str(tmp_path / "data"), bad=6)
    settings = FAST + ["data.format=folder", "data.num_classes=5", f"data.root={root}", "train.steps=4", "data.skip_bad_examples=true"]
    result = _fit(tmp_path / "run", settings, timeout=300)
    assert result.returncode == 1
    line = _error_line(result)
    assert "training split:" in line and "examples are bad, more than data.max_bad_fraction=0.1 allows" in line
    assert line.count("bad") < 10 and len(result.stderr) < 20000  # each file logged once, not forever
    # With every share tolerated, a split with no good example at all still stops.
    result = _fit(tmp_path / "run2", settings + ["data.max_bad_fraction=1.0"], timeout=300)
    assert result.returncode == 1 and "training split: all 6 examples are bad" in _error_line(result)


def test_skipped_examples_are_counted_and_reported(tmp_path):
    from kseg.training.runner import train

    root = _folder_dataset(str(tmp_path / "data"), good=9, bad=1)
    config = load_config(overrides=FAST + ["data.format=folder", "data.num_classes=5", f"data.root={root}", "train.steps=2", "data.skip_bad_examples=true"])
    result = train(config, str(tmp_path / "run"), verbose=0)
    assert set(result["skipped_examples"]) == {"training split", "split 'val'"}
    assert [os.path.basename(p) for p in result["skipped_examples"]["training split"]] == ["bad0.png"]


def test_a_data_error_inside_tf_data_is_one_line_naming_the_file(tmp_path):
    root = _folder_dataset(str(tmp_path / "data"), good=3, bad=1)
    result = _fit(tmp_path / "run", FAST + ["data.format=folder", "data.num_classes=5", f"data.root={root}", "train.steps=4"], timeout=300)
    assert result.returncode == 1
    line = _error_line(result)
    assert line.startswith("python -m training.fit: error: ") and "bad0.png: cannot read the image" in line


def test_one_process_per_run_directory(tmp_path, data_root):
    from kseg.training.run_lock import RunLockedError, acquire, release, run_lock

    run_dir = str(tmp_path / "run")
    with run_lock(run_dir):
        busy = _fit_here(run_dir, FAST + [f"data.root={data_root}", "train.steps=2"])
        assert busy.returncode == 1
        assert f"{run_dir} is in use by process {os.getpid()} on {socket.gethostname()}" in _error_line(busy)
        assert not os.path.exists(os.path.join(run_dir, "config.yaml"))  # it touched nothing
        with pytest.raises(RunLockedError, match="is in use by process"):
            acquire(run_dir)
    assert not os.path.exists(os.path.join(run_dir, "run.lock"))  # released
    # A lock file left by a killed process (same host, PID gone) blocks nothing, nor does an empty one.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    for content in [json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(), "started": "earlier"}), ""]:
        with open(os.path.join(run_dir, "run.lock"), "w") as f:
            f.write(content)
        handle = acquire(run_dir)
        with open(handle[0]) as f:
            assert json.load(f)["pid"] == os.getpid()
        release(handle)
        assert not os.path.exists(handle[0])


def test_config_errors_are_one_line_with_exit_2(tmp_path):
    result = _fit_here(tmp_path / "r", ["data.crop=[a,b]"])
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert result.returncode == 2 and errors == [
        "python -m training.fit: error: data.crop must be [height, width: positive integers]. Received: ['a', 'b'] (list)"
    ]
    assert not os.path.exists(tmp_path / "r")


def test_a_full_disk_is_one_line_and_the_run_resumes_once_space_is_freed(tmp_path, data_root):
    """The run folder on a 3 MB file system (a tiny run needs about 11 MB): one line, exit 1;
    after the file system grows, the same run resumes and finishes."""
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(small)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        run_dir, settings = small / "run", FAST + [f"data.root={data_root}", "train.steps=6"]
        full = _fit(run_dir, settings, timeout=300)
        assert full.returncode == 1
        line = _error_line(full)
        assert line.startswith(f"python -m training.fit: error: cannot write {run_dir}") and "no space left on the device" in line
        assert not os.path.exists(run_dir / "model.keras")
        subprocess.run(["mount", "-o", "remount,size=200m", "tmpfs", str(small)], check=True)
        from kseg.training.runner import train

        train(load_config(overrides=settings), str(run_dir), verbose=0)  # the rerun, in this process: it finishes
        assert os.path.exists(run_dir / "model.keras") and os.path.exists(run_dir / "checkpoints" / "ckpt-6.index")
        assert not [n for n in os.listdir(run_dir / "checkpoints") if n.endswith("_temp")]
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)
