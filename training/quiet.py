"""TensorFlow started without its start-up log lines, for the commands.

Importing TensorFlow 2.21 prints a dozen C++ log lines on stderr before its logging is
configured ("All log messages before absl::InitializeLog() ...", oneDNN, "Could not find
cuda drivers", "failed call to cuInit"), and oneDNN's notice on the first uint8 transpose
(an error line, though the transpose runs); `TF_CPP_MIN_LOG_LEVEL` does not reach them. The
commands call `start_tensorflow()` before anything imports TensorFlow: stderr (file
descriptor 2, where the C++ code writes) goes to a temporary file while TensorFlow loads
and looks for devices, and comes back afterwards. If loading fails, what was held back is
printed with the error. Setting `TF_CPP_MIN_LOG_LEVEL` yourself (e.g. 0) shows everything
as TensorFlow prints it.

This module imports nothing of kseg's: importing kseg imports TensorFlow.
"""

import contextlib
import os
import sys
import tempfile

DEFAULT_LOG_LEVEL = "2"  # C++ warnings off: kseg reports a tf.data error as one line, not one per thread


@contextlib.contextmanager
def _stderr_held_back():
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def start_tensorflow():
    """Import TensorFlow and initialise its devices with the start-up noise held back (see
    the module docstring); a no-op if TensorFlow is loaded or `TF_CPP_MIN_LOG_LEVEL` is set."""
    if "tensorflow" in sys.modules or "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = DEFAULT_LOG_LEVEL
    with _stderr_held_back():
        import tensorflow as tf

        tf.config.list_logical_devices()
        # oneDNN says once a process, as an error line, that it leaves uint8 transposes to Eigen
        # ("E0000 ... oneDNN supports DT_UINT8 only on platforms with AVX-512"): said here, not
        # when a command turns its first photo by its EXIF orientation (kseg.serving.exif)
        tf.transpose(tf.zeros([1, 1, 1], tf.uint8), [1, 0, 2])
