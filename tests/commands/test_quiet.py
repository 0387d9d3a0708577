"""The commands' start (training/quiet.py): TensorFlow's start-up log lines held back unless the
user set a level, and printed after all when loading fails."""

import os
import subprocess
import sys

from tests import REPO


def _python(code, **env):
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    environment.update(env, PYTHONPATH=REPO)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=120)


def test_start_tensorflow_holds_back_the_start_up_log_lines_unless_a_level_is_set():
    # a photo stored sideways turned as a command turns it: oneDNN's one-time notice on uint8
    # transposes came then, as an "E0000" line
    code = (
        "from training.quiet import start_tensorflow; start_tensorflow(); import tensorflow as tf; "
        "from kseg.serving.exif import turned; print(turned(tf.zeros([2, 3, 3], tf.uint8), tf.constant(6, tf.int64)).shape)"
    )
    quiet = _python(code)
    assert quiet.returncode == 0 and quiet.stdout.strip() == "(3, 2, 3)"
    assert quiet.stderr == ""
    loud = _python(code, TF_CPP_MIN_LOG_LEVEL="0")
    assert "absl::InitializeLog" in loud.stderr  # the user's own level shows what TensorFlow prints


def test_what_was_held_back_is_printed_when_loading_fails():
    code = (
        "import os\nfrom training import quiet\n"
        "with quiet._stderr_held_back():\n    os.write(2, b'native loader said why\\n')\n    raise ImportError('no')\n"
    )
    failed = _python(code)
    assert failed.returncode == 1
    assert "native loader said why" in failed.stderr and "ImportError: no" in failed.stderr
