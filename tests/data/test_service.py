"""tf.data service (issue 30, item 3): a dispatcher and two workers, each its own process on
127.0.0.1 (so no Python callback could hide in the trainer's process), run the training input
of records for a 20-step run; the file-pair pipeline is refused by name."""

import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest

from kseg.training.config import ConfigError, dataset_spec, load_config
from tests.tiny import TINY
from tests import REPO

ROOT = REPO


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _serve(*args):
    return subprocess.Popen(
        [sys.executable, "-m", "training.data_service", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""},
    )


def test_a_run_trains_through_a_dispatcher_and_two_worker_processes(data_root, tmp_path):
    from kseg.data.records_writer import write_records
    from kseg.training.runner import train

    dispatcher_port, worker_ports = _free_port(), [_free_port(), _free_port()]
    workers = ",".join(f"localhost:{port}" for port in worker_ports)
    servers = [_serve("dispatcher", "--port", str(dispatcher_port), "--workers", workers)]
    servers += [_serve("worker", "--dispatcher", f"localhost:{dispatcher_port}", "--port", str(port)) for port in worker_ports]
    try:
        records = str(tmp_path / "records")  # a local folder: the workers are other processes
        write_records(dataset_spec(load_config(overrides=[f"data.root={data_root}"])), records)
        settings = TINY + ["data.format=records", f"data.root={records}", "data.crop=[48,48]",
                           f"data.service=grpc://localhost:{dispatcher_port}", "train.checkpoint_every=10"]
        result = train(load_config(overrides=settings + ["train.steps=20"]), str(tmp_path / "run"), verbose=0)
        assert result["steps"] == 20 and np.isfinite(result["final_train_loss"]) and np.isfinite(result["val_mean_iou"])
        assert all(server.poll() is None for server in servers)  # still serving
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
    for server in servers:
        out, err = server.communicate(timeout=60)
        assert server.returncode == 143 and "error: terminated by signal 15; the server stopped" in err, err[-2000:]
        assert "tf.data service" in out


def test_the_service_takes_records_only():
    with pytest.raises(ConfigError, match=r"^data.service needs data.format=records \(not 'builtin'\): the file-pair pipeline runs Python"):
        load_config(overrides=["data.service=grpc://localhost:5050"])
    with pytest.raises(ConfigError, match=r"data.service must be grpc://host:port. Received: 'localhost:5050'"):
        load_config(overrides=["data.format=records", "data.root=/nowhere", "data.service=localhost:5050"])
