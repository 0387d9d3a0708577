"""Run a command's `main(argv)` in the test process, as its shell command would run it, without
paying for a fresh interpreter that imports TensorFlow (~6 s each on 2 cores).

Only for runs that stop before any data is read (config errors, dry runs, a busy run folder):
a run stopped inside tf.data can leave threads that hang the interpreter's shutdown, which is
why `python -m training.fit` leaves with os._exit, and why those cases stay subprocesses.
"""

import contextlib
import io
import signal
import subprocess


def run_main(main, argv):
    """(returncode, stdout, stderr) of `main(argv)` as a CompletedProcess; signal handlers restored."""
    stdout, stderr = io.StringIO(), io.StringIO()
    handler = signal.getsignal(signal.SIGTERM)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = main(list(argv))
    finally:
        signal.signal(signal.SIGTERM, handler)
    return subprocess.CompletedProcess(argv, status, stdout.getvalue(), stderr.getvalue())
