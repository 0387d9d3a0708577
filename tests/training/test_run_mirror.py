"""A run folder in a bucket (kseg/training/run_mirror.py), on TensorFlow's in-memory `ram://`:
what is uploaded and in which order, what a resumed run downloads, and a run resumed from the
bucket alone training like one uninterrupted local run."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from kseg.remote_io import read_text
from kseg.training import run_mirror
from kseg.training.run_mirror import RemoteRunError, RunMirror, mirrored, remote_run_folder, working_copy


@pytest.fixture
def bucket(tmp_path, monkeypatch):
    monkeypatch.setenv("KSEG_WORK_DIR", str(tmp_path / "work"))
    return f"ram://{tmp_path.name}-bucket/runs/x"


def _tree(url):
    return sorted(f"{root[len(url):]}/{name}".lstrip("/") for root, _, names in tf.io.gfile.walk(url) for name in names)


def _write(folder, files):
    for relative, text in files.items():
        path = os.path.join(folder, *relative.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


RUN = {
    "config.yaml": "name: x", "checkpoints/ckpt-2.index": "i2", "checkpoints/ckpt-2.data-00000-of-00001": "d2",
    "checkpoints/checkpoint": 'model_checkpoint_path: "ckpt-2"', "logs/train/events.out": "e", "run.lock": "{}",
    ".model.keras.tmp-1@h-ab.keras": "half", "checkpoints/ckpt-4_temp/part": "p", "worker-1/checkpoints/checkpoint": "w",
    "stage-1-fine/result.json": "{}", "stage-1-fine/model.keras": "m", "best/model.keras": "b", "best/result.json": "{}",
    "serving/x/2/variables/variables.index": "v", "serving/x/2/saved_model.pb": "g", "result.json": "{}",
}


def test_the_working_copy_is_named_after_the_url(tmp_path, monkeypatch):
    monkeypatch.setenv("KSEG_WORK_DIR", str(tmp_path))
    assert working_copy("gs://bucket/runs/x/") == str(tmp_path / "gs" / "bucket" / "runs" / "x")
    monkeypatch.delenv("KSEG_WORK_DIR")
    assert working_copy("s3://b//r") == os.path.join(os.path.expanduser("~"), ".cache", "kseg", "runs", "s3", "b", "r")


def test_locks_staging_files_unfinished_checkpoints_and_other_workers_stay_local():
    assert [name for name in RUN if not mirrored(name)] == [
        "run.lock", ".model.keras.tmp-1@h-ab.keras", "checkpoints/ckpt-4_temp/part", "worker-1/checkpoints/checkpoint"]
    assert mirrored("stage-1-fine/worker-1/x")  # only the run folder's own worker folders are others'


def test_a_push_uploads_what_changed_the_files_a_marker_names_first(bucket, monkeypatch):
    mirror = RunMirror(bucket)
    _write(mirror.local, RUN)
    uploaded, upload = [], run_mirror.upload
    monkeypatch.setattr(run_mirror, "upload", lambda source, target: (uploaded.append(target[len(bucket) + 1:]), upload(source, target)))
    mirror.push()
    assert sorted(uploaded) == sorted(name for name in RUN if mirrored(name)) == _tree(bucket)
    markers = ["checkpoints/checkpoint", "serving/x/2/saved_model.pb", "best/result.json", "stage-1-fine/result.json", "result.json"]
    assert uploaded[-5:] == markers  # after every file they name; the run's result.json last
    uploaded.clear()
    _write(mirror.local, {"checkpoints/ckpt-4.index": "i4", "checkpoints/checkpoint": 'model_checkpoint_path: "ckpt-4"'})
    mirror.push()
    assert uploaded == ["checkpoints/ckpt-4.index", "checkpoints/checkpoint"]  # only what changed
    assert read_text(f"{bucket}/checkpoints/checkpoint") == 'model_checkpoint_path: "ckpt-4"'


def test_a_push_deletes_what_the_run_removed_after_uploading_but_keeps_its_outputs(bucket, monkeypatch):
    mirror = RunMirror(bucket)
    _write(mirror.local, RUN)
    mirror.push()
    events = []
    monkeypatch.setattr(run_mirror, "upload", lambda source, target: events.append(("upload", target[len(bucket) + 1:])))
    remove = tf.io.gfile.remove
    monkeypatch.setattr(tf.io.gfile, "remove", lambda path: (events.append(("remove", path[len(bucket) + 1:])), remove(path)))
    for name in ("checkpoints/ckpt-2.index", "checkpoints/ckpt-2.data-00000-of-00001", "logs/train/events.out"):
        os.remove(os.path.join(mirror.local, *name.split("/")))
    _write(mirror.local, {"checkpoints/checkpoint": 'model_checkpoint_path: "ckpt-6"', "checkpoints/ckpt-6.index": "i6"})
    mirror.push()
    assert events == [("upload", "checkpoints/ckpt-6.index"), ("upload", "checkpoints/checkpoint"),
                      ("remove", "checkpoints/ckpt-2.data-00000-of-00001"), ("remove", "checkpoints/ckpt-2.index")]
    assert tf.io.gfile.exists(f"{bucket}/logs/train/events.out")  # an output: a resumed run writes others beside it


def test_a_pull_replaces_the_working_copy_by_the_bucket_without_its_outputs(bucket):
    mirror = RunMirror(bucket)
    _write(mirror.local, RUN)
    mirror.push()
    _write(mirror.local, {"checkpoints/ckpt-9.index": "newer than the bucket", "config.yaml": "changed"})
    again = RunMirror(bucket)
    again.pull()
    files = {os.path.relpath(os.path.join(root, name), again.local) for root, _, names in os.walk(again.local) for name in names}
    assert files == {name for name in RUN if mirrored(name) and not name.startswith(("logs/", "serving/"))} | {
        "worker-1/checkpoints/checkpoint"}  # another worker's folder on this machine is left alone
    with open(os.path.join(again.local, "config.yaml")) as f:
        assert f.read() == "name: x"
    again.push()
    assert _tree(bucket) == sorted(name for name in RUN if mirrored(name))  # nothing re-uploaded or lost


def test_paths_of_the_working_copy_are_named_by_their_urls(bucket):
    mirror = RunMirror(bucket)
    local = mirror.local
    result = {"model": os.path.join(local, "model.keras"), "stages": [{"run_dir": local}], "other": local + "-x", "steps": 3}
    assert mirror.to_url(result) == {"model": f"{bucket}/model.keras", "stages": [{"run_dir": bucket}], "other": local + "-x", "steps": 3}


def test_a_failed_run_still_uploads_its_checkpoints_and_leaves_no_lease(bucket):
    with pytest.raises(KeyboardInterrupt):
        with remote_run_folder(bucket) as mirror:
            _write(mirror.local, {"checkpoints/ckpt-2.index": "i", "checkpoints/checkpoint": "c"})
            raise KeyboardInterrupt
    assert _tree(bucket) == ["checkpoints/checkpoint", "checkpoints/ckpt-2.index"]


def test_a_bucket_that_refuses_is_one_line_naming_it(bucket, monkeypatch):
    def refuse(*args, **kwargs):
        raise tf.errors.PermissionDeniedError(None, None, "caller does not have storage.objects.create access\nmore")

    monkeypatch.setattr(tf.io.gfile, "rename", refuse)
    with pytest.raises(RemoteRunError, match=rf"^{bucket}: caller does not have storage.objects.create access$"):
        with remote_run_folder(bucket):
            pass
    with pytest.raises(RemoteRunError, match=r"^s3://b/r: File system scheme 's3' not implemented"):
        with remote_run_folder("s3://b/r"):
            pass


def test_a_run_resumed_from_the_bucket_alone_trains_like_one_local_run(bucket, data_root, tmp_path, capsys, monkeypatch):
    import keras

    from kseg.training import loop
    from kseg.training.config import load_config
    from kseg.training.runner import run
    from tests.tiny import TINY

    config = load_config(None, TINY + [f"data.root={data_root}", "train.steps=4", "train.checkpoint_every=2",
                                       "export.saved_model=true"])
    sync = loop._Upload.on_epoch_end

    def preempted(self, epoch, logs=None):  # the machine goes once step 2's checkpoint is in the bucket
        sync(self, epoch, logs)
        raise KeyboardInterrupt

    monkeypatch.setattr(loop._Upload, "on_epoch_end", preempted)
    with pytest.raises(KeyboardInterrupt):
        run(config, bucket, verbose=0)
    monkeypatch.setattr(loop._Upload, "on_epoch_end", sync)
    assert "checkpoints/ckpt-2.index" in _tree(bucket) and "model.keras" not in _tree(bucket)
    os.rename(working_copy(bucket), str(tmp_path / "machine gone"))  # another machine: only the bucket is left
    capsys.readouterr()
    result = run(config, bucket, verbose=0)
    out = capsys.readouterr().out
    assert "Downloaded 4 files of" in out and "(step 2)" in out  # config.yaml, the checkpoint (index, data), its list
    assert result["steps"] == 4 and result["model"] == f"{bucket}/model.keras"
    assert json.loads(read_text(f"{bucket}/result.json"))["metrics"]["json"] == f"{bucket}/eval/metrics.json"
    assert {"checkpoints/ckpt-2.index", "checkpoints/ckpt-4.index", "eval/metrics.json", "model.keras"} <= set(_tree(bucket))
    assert not any(name.split("/")[-1].startswith(".") for name in _tree(bucket))  # no staging left
    assert not tf.io.gfile.exists(f"{bucket}/run.lock")
    assert result["exports"]["saved_model"] == f"{bucket}/serving/{config.name}/4"
    assert tf.io.gfile.exists(f"{bucket}/serving/{config.name}/4/saved_model.pb")
    # TF Serving reads the bucket itself: models.config names it, not the local /models default
    assert f'base_path: "{bucket}/serving/{config.name}"' in read_text(f"{bucket}/serving/models.config")

    local = run(config.replace({"export.saved_model": False}), str(tmp_path / "local"), verbose=0)
    with tf.io.gfile.GFile(f"{bucket}/model.keras", "rb") as f, open(tmp_path / "remote.keras", "wb") as g:
        g.write(f.read())
    remote = keras.saving.load_model(str(tmp_path / "remote.keras"), compile=False)
    for a, b in zip(remote.weights, keras.saving.load_model(local["model"], compile=False).weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    assert result["val_mean_iou"] == local["val_mean_iou"]
