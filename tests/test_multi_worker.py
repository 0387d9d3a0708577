"""`training.fit --strategy multi_worker`: two worker processes on 127.0.0.1 train like one
process with the same global batch (DESIGN: data-parallel training beyond one machine)."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from kseg.training.distribute import DistributeError, read_tf_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS = [
    # DeepLab-LargeFOV has no BatchNormalization, whose per-replica batch statistics would
    # make two workers differ from one process
    "model.architecture=deeplabv2",
    "model.backbone=vgg16",
    "model.output_stride=8",
    "model.options={aspp: LargeFOV, dropout_rate: 0.0}",  # dropout masks are random per process
    "optimizer.learning_rate=0.001",
    "train.steps=3",
    "train.checkpoint_every=3",
    "data.batch_size=4",  # global: 2 per worker
    "data.crop=[64,64]",
    "data.scale=null",  # no padding, so no ignored pixels: per-replica loss means add up to the global one
    "export.onnx=false",
    "export.saved_model=false",
]


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _command(run_dir, data_root, strategy):
    command = [sys.executable, "-m", "training.fit", "--quiet", "--run-dir", run_dir, "--strategy", strategy]
    for item in SETTINGS + [f"data.root={data_root}"]:
        command += ["--set", item]
    return command


def _weights(path):
    import keras

    return keras.saving.load_model(path, compile=False).get_weights()


def test_two_workers_and_two_replicas_train_like_one_process(tmp_path):
    from kseg.data import ensure_builtin_dataset

    data_root = ensure_builtin_dataset(str(tmp_path / "shapes"))
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    # deterministic kernels: run-to-run noise of the conv gradients would otherwise swamp the comparison
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "OMP_NUM_THREADS": "1", "TF_DETERMINISTIC_OPS": "1"}
    run_dir = str(tmp_path / "multi")
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes.append(
            subprocess.Popen(
                _command(run_dir, data_root, "multi_worker"),
                cwd=ROOT,
                env={**env, "TF_CONFIG": json.dumps(tf_config)},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    # MirroredStrategy over two logical CPU devices of one process (how one multi-GPU machine trains)
    mirrored_script = (
        "import sys, tensorflow as tf; cpu = tf.config.list_physical_devices('CPU')[0]; "
        "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2); "
        "from training.fit import main; sys.exit(main(sys.argv[1:]))"
    )
    mirrored = subprocess.Popen(
        [sys.executable, "-c", mirrored_script] + _command(str(tmp_path / "mirrored"), data_root, "mirrored")[3:],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    single = subprocess.run(
        _command(str(tmp_path / "single"), data_root, "default"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    outputs = [p.communicate(timeout=900) for p in processes]
    for process, (_, err) in zip(processes, outputs):
        assert process.returncode == 0, err[-3000:]
    assert single.returncode == 0, single.stderr[-3000:]
    mirrored_err = mirrored.communicate(timeout=900)[1]
    assert mirrored.returncode == 0, mirrored_err[-3000:]

    with open(os.path.join(run_dir, "result.json")) as f:
        chief = json.load(f)
    with open(os.path.join(run_dir, "worker-1", "result.json")) as f:
        other = json.load(f)
    assert chief["steps"] == other["steps"] == 3 and chief["replicas"] == 2
    assert "val_mean_iou" in chief and "val_mean_iou" not in other  # only the chief evaluates

    mine = _weights(os.path.join(run_dir, "model.keras"))
    theirs = _weights(os.path.join(run_dir, "worker-1", "model.keras"))
    alone = _weights(os.path.join(str(tmp_path / "single"), "model.keras"))
    for a, b in zip(mine, theirs):
        np.testing.assert_array_equal(a, b)  # all-reduced updates: the workers hold one model
    assert np.isfinite(chief["final_train_loss"])
    # Same global batch, same initial weights: the all-reduced gradient is the single-process
    # gradient up to summation order (measured: max |dw| 1.5e-8 after 3 SGD steps).
    for a, c in zip(mine, alone):
        np.testing.assert_allclose(a, c, rtol=0, atol=1e-6)
    with open(os.path.join(str(tmp_path / "mirrored"), "result.json")) as f:
        assert json.load(f)["replicas"] == 2
    for m, c in zip(_weights(os.path.join(str(tmp_path / "mirrored"), "model.keras")), alone):
        np.testing.assert_allclose(m, c, rtol=0, atol=1e-6)
