"""The run lock (kseg/training/run_lock.py): one process per run folder, under races. (A second
training.fit on a busy folder: tests/end_to_end/test_reliability.py.)"""

import json
import os
import socket
import subprocess
import sys

from tests import REPO


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
