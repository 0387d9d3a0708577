"""How a command runs as a process: SIGTERM (`kill`, a scheduler's preemption) unwinds it,
so its staging files are removed and its lock released, and ends it with one line on
stderr and status 143; a write the disk refuses (full, read-only) is one line and status 1;
a failed command leaves at once."""

import os
import signal
import sys

TERMINATED = 128 + signal.SIGTERM


class Terminated(BaseException):
    """SIGTERM arrived: raised where the command is, so `finally` blocks and context managers
    run; a `BaseException`, like `KeyboardInterrupt`, so libraries' `except Exception` pass it on."""


def _raise_terminated(signum, frame):
    raise Terminated(f"terminated by signal {signum}")


def stop_on_sigterm():
    """From now on SIGTERM raises `Terminated` in the main thread (between Python bytecodes:
    a TensorFlow op that is running finishes first)."""
    signal.signal(signal.SIGTERM, _raise_terminated)


def _prog():
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return f"python -m {spec.name.removesuffix('.__main__')}" if spec else os.path.basename(sys.argv[0])


def run_command(main, argv=None, after="nothing half-written is left; rerun the command"):
    """`main(argv)`'s status; a SIGTERM during it turned into one line naming the command
    (`<prog>: error: terminated by signal 15; <after>`) and `TERMINATED`, a write the disk
    refused (`kseg.training.errors.storage_problem`) into one line and 1."""
    previous = signal.getsignal(signal.SIGTERM)
    stop_on_sigterm()
    try:
        return main(argv)
    except Terminated as error:
        print(f"{_prog()}: error: {error}; {after}", file=sys.stderr)
        return TERMINATED
    except Exception as error:  # a disk that refuses writes is one line; anything else stays a traceback
        from kseg.training.errors import storage_problem

        problem = storage_problem(error)
        if problem is None:
            raise
        where, meaning = problem
        print(f"{_prog()}: error: cannot write {where or 'the output'}: {meaning}; nothing half-written is left: "
              "free space (or fix the permissions) and rerun the command", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_with(status, clean=(0,)):
    """Leave the process with `status`. Other than `clean` statuses, leave at once
    (`os._exit`): a command stopped in the middle can leave tf.data threads waiting on
    Python callbacks, which makes the interpreter's shutdown hang; everything the command
    writes is already on disk."""
    if status in clean:
        sys.exit(status)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def run_as_process(main, after="nothing half-written is left; rerun the command"):
    """A command's `if __name__ == "__main__"`: `run_command`, then leave with its status."""
    status = run_command(main, after=after)
    exit_with(status, clean=() if status == TERMINATED else (status,))
