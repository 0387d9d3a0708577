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

from kseg.training.config import ConfigError, load_config
from kseg.training.schema import DEFAULTS
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


def test_a_diverged_run_saves_nothing_and_a_sane_rerun_resumes_from_the_last_good_checkpoint(tmp_path, data_root):
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

    resumed = _fit(run_dir, longer)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "(step 2)" in resumed.stdout and "train.steps: 2 -> 6" in resumed.stdout
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


_LOCK_CONTENDER = """
import importlib.util, os, sys, time
spec = importlib.util.spec_from_file_location("run_lock", sys.argv[1])  # the module alone: no TensorFlow to load
run_lock = importlib.util.module_from_spec(spec); spec.loader.exec_module(run_lock)
run_dir, rounds, overlaps = sys.argv[2], int(sys.argv[3]), 0
start = float(sys.argv[4])
while time.time() < start:
    time.sleep(0.001)
for _ in range(rounds):
    try:
        handle = run_lock.acquire(run_dir)
    except run_lock.RunLockedError:
        continue
    try:  # inside the lock: nobody else may be here
        fd = os.open(os.path.join(run_dir, "inside"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        os.close(fd)
        time.sleep(0.002)
        os.remove(os.path.join(run_dir, "inside"))
    except FileExistsError:
        overlaps += 1
    run_lock.release(handle)
print(overlaps)
"""


def test_the_run_lock_holds_under_races(tmp_path):
    """Four processes take and release one run folder's lock as fast as they can, starting
    with a stale lock file: never two inside at once."""
    import time

    run_dir = str(tmp_path / "run")
    os.makedirs(run_dir)
    with open(os.path.join(run_dir, "run.lock"), "w") as f:
        json.dump({"pid": 999999999, "host": socket.gethostname(), "started": "earlier"}, f)
    module = os.path.join(REPO, "kseg", "training", "run_lock.py")
    start = str(time.time() + 1.0)
    children = [
        subprocess.Popen([sys.executable, "-c", _LOCK_CONTENDER, module, run_dir, "300", start], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    overlaps = [int(child.communicate(timeout=120)[0].split()[-1]) for child in children]
    assert all(child.returncode == 0 for child in children)
    assert overlaps == [0, 0, 0, 0]


def test_resume_refuses_another_model_and_applies_other_changes(tmp_path, data_root):
    from kseg.training.runner import train

    run_dir = str(tmp_path / "run")
    base = FAST + [f"data.root={data_root}"]
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


def test_chunks_end_at_checkpoint_boundaries_even_after_checkpoint_every_changed():
    from kseg.training.loop import chunk_plan

    assert chunk_plan(0, 14, 4) == [(0, 3, 4), (3, 4, 2)]  # 3 chunks of 4, then 2: ends at 14
    assert chunk_plan(8, 14, 4) == [(2, 3, 4), (3, 4, 2)]
    assert chunk_plan(2, 6, 6) == [(0, 1, 4)]  # resumed at 2 with checkpoint_every 2 -> 6
    assert chunk_plan(3, 10, 4) == [(0, 1, 1), (1, 2, 4), (2, 3, 2)]
    # with validations every 4 and checkpoints every 6: chunks end at the multiples of either, not of their gcd
    plan = chunk_plan(0, 20, 6, 4)
    ends = [sum(length for _, _, length in plan[: i + 1]) for i in range(len(plan))]
    assert ends == [4, 6, 8, 12, 16, 18, 20] and [a for a, _, _ in plan] == sorted({a for a, _, _ in plan})
    assert chunk_plan(6, 20, 6, 4) == plan[2:]  # a resumed run continues the same plan
    assert chunk_plan(12, 12, 2) == []


def test_several_steps_per_execution_still_end_every_chunk_on_its_checkpoint_step():
    from kseg.training.loop import chunk_plan, execution_length

    assert execution_length(10, chunk_plan(0, 3300, 300)) == 10
    assert execution_length(10, chunk_plan(0, 14, 4)) == 2  # chunks of 4, then 2
    assert execution_length(10, chunk_plan(3, 10, 4)) == 1  # a resumed run's 1-step chunk
    assert execution_length(10, []) == 10


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.crop=[a,b]", r"data.crop must be \[height, width: positive integers\]. Received: \['a', 'b'\] \(list\)"),
        ("data.scale=[a,b]", r"data.scale must be \[low, high: positive numbers\]. Received: \['a', 'b'\] \(list\)"),
        ("optimizer.learning_rate=abc", r"optimizer.learning_rate must be >= 0. Received: 'abc' \(str\)"),
        ("train.steps=true", r"train.steps must be a positive integer. Received: True \(bool\)"),
        ("data.batch_size=2.5", r"data.batch_size must be a positive integer. Received: 2.5 \(float\)"),
        ("data.flip=1", r"data.flip must be true or false. Received: 1 \(int\)"),
        ("model.output_stride=12", r"model.output_stride must be one of \[8, 16, 32\]. Received: 12 \(int\)"),
    ],
)
def test_bad_values_name_key_expected_and_received(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=[override])


def test_numbers_written_the_yaml_1_1_way_are_numbers():
    config = load_config(overrides=["optimizer.learning_rate=1e8", "optimizer.weight_decay=5e-4"])
    assert config["optimizer"]["learning_rate"] == 1e8 and config["optimizer"]["weight_decay"] == 5e-4


def test_model_options_are_checked_against_the_architecture():
    from kseg.training.tasks import get_task

    def check_model_options(config):
        get_task(config).check()

    with pytest.raises(ConfigError, match=r"model.options.bogus is not an argument of PAN \(model.architecture=pan\); it takes: .*decoder_filters"):
        check_model_options(load_config(overrides=["model.options.bogus=1"]))
    assert load_config(overrides=["model.options.pyramid_filters=1"])["model"]["options"] == {**DEFAULTS["model"]["options"], "pyramid_filters": 1}
    with pytest.raises(ConfigError, match="model.options.backbone: set model.backbone instead"):
        check_model_options(load_config(overrides=["model.options={backbone: resnet101}"]))
    check_model_options(load_config(overrides=["model.architecture=deeplabv2", "model.options={aspp: S}"]))


def test_config_errors_are_one_line_with_exit_2(tmp_path):
    result = _fit_here(tmp_path / "r", ["data.crop=[a,b]"])
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert result.returncode == 2 and errors == [
        "python -m training.fit: error: data.crop must be [height, width: positive integers]. Received: ['a', 'b'] (list)"
    ]
    assert not os.path.exists(tmp_path / "r")


def test_builtin_format_generates_only_into_the_cache_or_an_empty_folder(tmp_path, monkeypatch):
    from kseg.data import DataError, builtin, builtin_root

    monkeypatch.setattr(builtin, "SPLITS", {"train": 3, "val": 2, "coarse": 2})  # the folder logic, not the pictures

    with pytest.raises(DataError, match=r"data.root=.*nowhere: no such folder.*set data.format"):
        builtin_root(str(tmp_path / "nowhere"))
    real = tmp_path / "VOCdevkit"
    (real / "JPEGImages").mkdir(parents=True)
    with pytest.raises(DataError, match="holds files but not the built-in dataset: for your own data set data.format"):
        builtin_root(str(real))
    assert os.listdir(real) == ["JPEGImages"]  # untouched
    empty = tmp_path / "empty"
    empty.mkdir()
    root = builtin_root(str(empty))
    assert root == str(empty) and os.path.isfile(empty / "COMPLETE")
    assert builtin_root(root) == root  # used as it is the next time


def test_storage_errors_are_one_line_and_others_are_not_hidden(tmp_path):
    import errno

    import tensorflow as tf

    from kseg.training.errors import storage_error

    (tmp_path / "a").write_bytes(b"x" * 2**20)
    read_only = storage_error(OSError(errno.EROFS, "Read-only file system", str(tmp_path / "model.keras")), str(tmp_path))
    assert read_only.startswith(f"cannot write {tmp_path / 'model.keras'}: the file system is read-only; the run folder")
    assert "holds 1.0 MB" in read_only
    saving = tf.errors.ResourceExhaustedError(None, None, "runs/x/checkpoints/ckpt-4_temp/part-0; No space left on device")
    assert "no space left on the device" in storage_error(saving, str(tmp_path))
    assert storage_error(OSError(errno.ENOENT, "No such file"), str(tmp_path)) is None
    assert storage_error(ValueError("No space left on device"), str(tmp_path)) is None  # not an I/O error


def test_a_full_disk_is_one_line_and_the_run_resumes_once_space_is_freed(tmp_path, data_root):
    """The run folder on a 3 MB file system (a tiny run needs about 11 MB): one line, exit 1;
    after the file system grows, the same command resumes and finishes."""
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
        again = _fit(run_dir, settings, timeout=300)
        assert again.returncode == 0, again.stderr[-2000:]
        assert os.path.exists(run_dir / "model.keras") and os.path.exists(run_dir / "checkpoints" / "ckpt-6.index")
        assert not [n for n in os.listdir(run_dir / "checkpoints") if n.endswith("_temp")]
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)
