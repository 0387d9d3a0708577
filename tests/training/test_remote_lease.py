"""The lease of a run folder in a bucket (kseg/training/remote_lease.py), on `ram://`."""

import json
import socket
import time

import pytest
import tensorflow as tf

from kseg.remote_io import read_text, replace_text
from kseg.training import remote_lease
from kseg.training.remote_lease import RemoteLease
from kseg.training.run_lock import RunLockedError


@pytest.fixture
def url(tmp_path):
    return f"ram://{tmp_path.name}-lease/run"


def _holder(url, **changes):
    record = {"pid": 4242, "host": "other-host", "started": "2026-12-07T00:00:00+0000", "token": "t", "renewed": time.time()}
    replace_text(f"{url}/run.lock", json.dumps({**record, **changes}))


def test_a_lease_names_its_holder_and_goes_when_released(url):
    lease = RemoteLease(url).acquire()
    record = json.loads(read_text(f"{url}/run.lock"))
    assert record["host"] == socket.gethostname() and record["token"] == lease.record["token"]
    assert time.time() - record["renewed"] < 60
    lease.release()
    assert not tf.io.gfile.exists(f"{url}/run.lock")


def test_a_fresh_lease_of_another_process_is_refused_by_name(url):
    _holder(url, renewed=time.time() - 30)
    with pytest.raises(RunLockedError, match=(
            rf"^{url} is in use by process 4242 on other-host \(since 2026-12-07T00:00:00\+0000, renewed its lease "
            r"3[0-9] s ago\); wait for it or choose another --run-dir \(a run that is gone leaves its lease to be taken "
            r"over after 5 minutes of silence\)$")):
        RemoteLease(url).acquire()
    assert json.loads(read_text(f"{url}/run.lock"))["token"] == "t"  # untouched


@pytest.mark.parametrize("holder", [
    {"renewed": time.time() - remote_lease.STALE_SECONDS - 1},  # silent (a preempted VM)
    {"host": socket.gethostname(), "pid": 2**22 + 7},  # a process of this host that is gone
])
def test_a_lease_whose_holder_is_gone_is_taken_over(url, capsys, holder):
    _holder(url, **holder)
    lease = RemoteLease(url).acquire()
    assert json.loads(read_text(f"{url}/run.lock"))["token"] == lease.record["token"]
    assert f"Taking over {url}/run.lock from process {holder.get('pid', 4242)}" in capsys.readouterr().out
    lease.release()


def test_a_garbled_lease_blocks_nothing(url):
    replace_text(f"{url}/run.lock", "{half")
    RemoteLease(url).acquire().release()


def test_the_lease_is_renewed_while_held_and_release_leaves_another_holders_lease(url, monkeypatch):
    monkeypatch.setattr(remote_lease, "RENEW_SECONDS", 0.05)
    lease = RemoteLease(url).acquire()
    first = json.loads(read_text(f"{url}/run.lock"))["renewed"]
    time.sleep(0.3)
    assert json.loads(read_text(f"{url}/run.lock"))["renewed"] > first
    lease._stop.set()
    lease._thread.join()
    _holder(url)  # taken over meanwhile (this process was silent too long)
    lease.release()
    assert json.loads(read_text(f"{url}/run.lock"))["token"] == "t"


def test_two_processes_taking_the_lease_at_once_are_seen(url, monkeypatch):
    write = RemoteLease._write

    def raced(self):  # another process writes its lease just after this one
        write(self)
        _holder(url)

    monkeypatch.setattr(RemoteLease, "_write", raced)
    with pytest.raises(RunLockedError, match=rf"^{url}: another process took its lease at the same moment"):
        RemoteLease(url).acquire()
