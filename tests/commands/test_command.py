"""SIGTERM during any command is one line and status 143, and what the command was
writing atomically is not left behind (issue 33, item 7): `training/command.py`, which
every command's `__main__` goes through."""

import os
import signal
import subprocess
import sys
import time

import kseg
from kseg.atomic import atomic_path
from tests.tiny import TINY_RESNET
from training.command import TERMINATED, _prog, run_command
from tests import REPO

ROOT = REPO


def test_sigterm_while_writing_is_one_line_and_leaves_no_staging(tmp_path, capsys):
    def main(argv):
        with atomic_path(str(tmp_path / "model.keras")) as staging:
            with open(staging, "w") as f:
                f.write("half")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)  # interrupted by the handler's exception
        return 0

    before = signal.getsignal(signal.SIGTERM)
    assert run_command(main) == TERMINATED == 143
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error: terminated by signal 15; nothing half-written is left; rerun the command" in err
    assert os.listdir(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_disk_refusing_a_write_is_one_line(capsys):
    import errno

    import tensorflow as tf

    def full(argv):
        raise OSError(errno.ENOSPC, "No space left on device", "/out/eval/metrics.json")

    def read_only(argv):
        raise tf.errors.FailedPreconditionError(None, None, "/out/serving/2/variables; Read-only file system")

    assert run_command(full) == 1
    assert capsys.readouterr().err == (
        f"{_prog()}: error: cannot write /out/eval/metrics.json: no space left on the device; nothing half-written is left: "
        "free space (or fix the permissions) and rerun the command\n"
    )
    assert run_command(read_only) == 1
    assert "cannot write the output: the file system is read-only; nothing half-written" in capsys.readouterr().err


def test_every_command_goes_through_it():
    for command in ("training/evaluate.py", "training/predict.py", "training/tune_crf.py", "training/fit.py",
                    "export/saved_model.py", "export/tflite.py", "export/onnx.py"):
        with open(os.path.join(ROOT, command)) as f:
            source = f.read()
        assert "run_as_process(main)" in source or "exit_with(main()" in source, command


def test_a_terminated_command_process_says_one_line(tmp_path):
    """A real process: `python -m training.predict` stopped while it reads an image."""
    model = kseg.models.PAN(num_classes=3, backbone="resnet50", decoder_filters=8, backbone_options=TINY_RESNET)
    model.save(tmp_path / "pan.keras")
    (tmp_path / "in").mkdir()
    fifo = tmp_path / "in" / "photo.png"
    os.mkfifo(fifo)  # reading it blocks: the command is reliably inside its work when the signal comes
    child = subprocess.Popen(
        [sys.executable, "-m", "training.predict", "--model", str(tmp_path / "pan.keras"), "--images", str(tmp_path / "in"),
         "--out", str(tmp_path / "out")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    writer = _open_once_read(fifo, child)
    try:
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
    finally:
        os.close(writer)
    assert child.returncode == 143, err[-2000:]
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1] == "python -m training.predict: error: terminated by signal 15; nothing half-written is left; rerun the command"
    assert "Traceback" not in err


def _open_once_read(fifo, child, timeout=120):
    """The write end of `fifo`, opened once the child opens it to read (it then waits for data)."""
    deadline = time.time() + timeout
    while time.time() < deadline and child.poll() is None:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader yet
            time.sleep(0.2)
    raise AssertionError(f"the command never read the image: {child.communicate()[1][-2000:]}")
