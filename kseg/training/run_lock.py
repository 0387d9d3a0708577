"""One writer per run directory: an advisory lock on `<run>/run.lock`, which names its holder.


The lock is the kernel's (`fcntl.flock` on the open file), not the file's existence: only
one process can hold it, however many try at once; it goes when its holder's process ends,
however it ends (a SIGKILL or a crash leaves nothing stale to clear), and the file's content
does not matter to it, so an empty or garbled `run.lock` (a crash between create and write,
a full disk) blocks nothing. The holder writes `{"pid", "host", "started"}` into the file
for the message another process gets, and removes the file when it finishes; a process that
locked a file which was removed meanwhile sees it by the inode and tries again.

Needs `fcntl` (Linux, macOS; on NFS, Linux maps `flock` to the server's byte-range locks).
This module imports nothing else of kseg.
"""

import contextlib
import fcntl
import json
import os
import socket
import time

from kseg.run_folder import RunFolder

ATTEMPTS = 20  # lock files removed under us by finishing holders before we give up


class RunLockedError(RuntimeError):
    """Another process is training in this run directory."""


def _read_holder(fd):
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return json.loads(os.read(fd, 4096).decode())
    except (OSError, ValueError, UnicodeDecodeError):
        return None  # being written, empty or garbled


def _still_linked(fd, path):
    """True when `fd` is the file at `path` (not one a finishing holder removed)."""
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _write_holder(fd):
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(record).encode())


def _busy_error(run_dir, path, holder):
    if holder is None:
        who = "another process (its lock file names none yet)"
    else:
        who = f"process {holder.get('pid')} on {holder.get('host')} (since {holder.get('started')})"
    return RunLockedError(f"{run_dir} is in use by {who}; wait for it or choose another --run-dir")


def acquire(run_dir):
    """Take the lock of `run_dir` and return its handle (for `release`); raise
    `RunLockedError` naming the holder when another process has it."""
    os.makedirs(run_dir, exist_ok=True)
    path = RunFolder(run_dir).lock
    for _ in range(ATTEMPTS):
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise _busy_error(run_dir, path, holder) from None
        if not _still_linked(fd, path):  # its holder removed it between our open and our lock
            os.close(fd)
            continue
        previous = _read_holder(fd)
        if previous and previous.get("pid") != os.getpid():
            print(f"Taking over {path} from process {previous.get('pid')} (gone)", flush=True)
        _write_holder(fd)
        return (path, fd)
    raise RunLockedError(f"could not take {path}: other processes keep finishing and removing it")


def release(handle):
    """Remove the lock file, then drop the lock (in that order: a waiting process that
    locks the removed file sees that it is gone and tries again)."""
    path, fd = handle
    with contextlib.suppress(FileNotFoundError):
        if _still_linked(fd, path):
            os.remove(path)
    os.close(fd)


@contextlib.contextmanager
def run_lock(run_dir):
    """Hold the run directory's lock for the duration of the block."""
    handle = acquire(run_dir)
    try:
        yield handle[0]
    finally:
        release(handle)
