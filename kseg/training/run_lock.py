"""One writer per run directory: a lock file naming its holder.

`<run>/run.lock` holds `{"pid", "host", "started"}` of the process training in `<run>`.
It is created exclusively (`O_EXCL`), removed when the holder finishes (normally or by an
exception), and a lock whose process is gone (same host, PID no longer running, e.g.
after a SIGKILL) is stale and taken over. A lock held from another host cannot be checked
and is reported with the command to clear it.
"""

import contextlib
import json
import os
import socket
import time

from kseg.atomic import pid_alive

LOCK_NAME = "run.lock"


class RunLockedError(RuntimeError):
    """Another process is training in this run directory."""


def _read_holder(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None  # being written, or garbage: treated as held until it can be read


def _try_create(path):
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        json.dump({"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, f)
    return True


def acquire(run_dir):
    """Take `<run_dir>/run.lock` or raise `RunLockedError` naming the holder."""
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, LOCK_NAME)
    for _ in range(3):
        if _try_create(path):
            return path
        holder = _read_holder(path)
        if holder is None:
            time.sleep(0.2)
            continue
        if holder.get("host") == socket.gethostname() and not pid_alive(int(holder.get("pid", -1))):
            print(f"Removing a stale lock {path} (process {holder.get('pid')} is gone)", flush=True)
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
            continue
        raise RunLockedError(
            f"{run_dir} is in use by process {holder.get('pid')} on {holder.get('host')} (since {holder.get('started')}); "
            f"wait for it, choose another --run-dir, or remove {path} if that process is gone"
        )
    raise RunLockedError(f"could not take {path}: another process keeps creating it")


def release(path):
    holder = _read_holder(path)
    if holder and holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


@contextlib.contextmanager
def run_lock(run_dir):
    """Hold the run directory's lock for the duration of the block."""
    path = acquire(run_dir)
    try:
        yield path
    finally:
        release(path)
