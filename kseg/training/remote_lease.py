"""One writer per run folder in a bucket: a lease, `<url>/run.lock`, that its holder renews.

An object store has no lock a process holds until it dies (`kseg.training.run_lock` uses the
kernel's), so the holder names itself in `run.lock` (`{"pid", "host", "started", "token",
"renewed"}`) and rewrites it every `RENEW_SECONDS` from a background thread. Another process
is refused while the lease is fresh; it takes the lease over once its holder has been silent
`STALE_SECONDS` (a preempted VM renews nothing), or at once when the holder was a process of
this host that is gone. After writing its lease a process reads it back and stops if another
one's is there. Two processes starting in the same second may both miss each other: the
lease guards against a second run started while one trains, not against a simultaneous start.

Times are the holders' clocks (seconds since the epoch): keep them synchronised (NTP).
"""

import json
import os
import secrets
import socket
import threading
import time

import tensorflow as tf

from kseg.atomic import pid_alive
from kseg.remote_io import join, read_text, replace_text
from kseg.training.run_lock import RunLockedError

RENEW_SECONDS = 60
STALE_SECONDS = 300


def _holder_of(url):
    """The lease record at `<url>/run.lock`, or None (none, or not a lease: garbled)."""
    text = read_text(join(url, "run.lock"))
    try:
        record = json.loads(text) if text else None
    except ValueError:
        return None
    return record if isinstance(record, dict) and "renewed" in record else None


def _gone(holder, now):
    """Whether the process `holder` names no longer trains: silent too long, or dead here."""
    if now - float(holder["renewed"]) >= STALE_SECONDS:
        return True
    return holder.get("host") == socket.gethostname() and not pid_alive(int(holder.get("pid", -1)))


def _busy_error(url, holder, now):
    silent = max(0, now - float(holder["renewed"]))
    return RunLockedError(
        f"{url} is in use by process {holder.get('pid')} on {holder.get('host')} (since {holder.get('started')}, "
        f"renewed its lease {silent:.0f} s ago); wait for it or choose another --run-dir (a run that is gone leaves "
        f"its lease to be taken over after {STALE_SECONDS // 60} minutes of silence)"
    )


class RemoteLease:
    """The lease of the run folder `url`, held from `acquire` to `release`."""

    def __init__(self, url):
        self.url, self.path = url, join(url, "run.lock")
        self.record = {
            "pid": os.getpid(), "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "token": secrets.token_hex(8),
        }
        self._stop = threading.Event()
        self._thread = None

    def _write(self):
        replace_text(self.path, json.dumps({**self.record, "renewed": time.time()}))

    def acquire(self):
        """Take the lease, or raise `RunLockedError` naming its holder; then renew it in the background."""
        holder, now = _holder_of(self.url), time.time()
        if holder is not None and not _gone(holder, now):
            raise _busy_error(self.url, holder, now)
        if holder is not None:
            print(f"Taking over {self.path} from process {holder.get('pid')} on {holder.get('host')} (gone)", flush=True)
        self._write()
        holder = _holder_of(self.url)
        if holder is None or holder.get("token") != self.record["token"]:
            raise RunLockedError(f"{self.url}: another process took its lease at the same moment; choose one of the two runs")
        self._thread = threading.Thread(target=self._renew, name="kseg-lease", daemon=True)
        self._thread.start()
        return self

    def _renew(self):
        while not self._stop.wait(RENEW_SECONDS):
            try:
                self._write()
            except tf.errors.OpError as error:  # the next renewal tries again; the run goes on
                print(f"Could not renew the lease {self.path}: {error.message.splitlines()[0]}", flush=True)

    def release(self):
        """Stop renewing and remove the lease if it is still this process's."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        holder = _holder_of(self.url)
        if holder is not None and holder.get("token") == self.record["token"]:
            tf.io.gfile.remove(self.path)
