"""Uploading an exported version (kseg/serving/upload.py): every file arrives, the graph last,
what was at the destination is replaced, and the staging prefix is gone, also after a failure."""

import pytest
import tensorflow as tf

from kseg.serving.upload import upload_version


def _local_version(folder):
    for path, text in (("saved_model.pb", "graph"), ("fingerprint.pb", "f"), ("variables/variables.index", "i"),
                       ("variables/variables.data-00000-of-00001", "d"), ("assets.extra/labels.json", "{}")):
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    return str(folder)


def _tree(url):
    return sorted(f"{root[len(url):]}/{name}".lstrip("/") for root, _, names in tf.io.gfile.walk(url) for name in names)


def test_every_file_arrives_the_graph_last_replacing_what_was_there(tmp_path, monkeypatch):
    local, model = _local_version(tmp_path / "1"), f"ram://{tmp_path.name}/m"
    tf.io.gfile.makedirs(f"{model}/1")
    with tf.io.gfile.GFile(f"{model}/1/stale.txt", "w") as f:
        f.write("old")
    copied, copy = [], tf.io.gfile.copy
    monkeypatch.setattr(tf.io.gfile, "copy", lambda source, target, overwrite=False: (
        copied.append(target), copy(source, target, overwrite=overwrite))[1])
    assert upload_version(local, f"{model}/1") == f"{model}/1"
    assert _tree(f"{model}/1") == ["assets.extra/labels.json", "fingerprint.pb", "saved_model.pb",
                                   "variables/variables.data-00000-of-00001", "variables/variables.index"]
    assert copied[-1] == f"{model}/1/saved_model.pb" and copied[4].split("/")[-1] == "saved_model.pb"  # staged, then placed
    assert [name.rstrip("/") for name in tf.io.gfile.listdir(model)] == ["1"]
    with tf.io.gfile.GFile(f"{model}/1/saved_model.pb") as f:
        assert f.read() == "graph"


def test_a_failed_upload_leaves_no_staging_and_the_version_as_it_was(tmp_path, monkeypatch):
    local, model = _local_version(tmp_path / "1"), f"ram://{tmp_path.name}/m"

    def fail(source, target, overwrite=False):
        raise tf.errors.UnavailableError(None, None, "connection reset")

    monkeypatch.setattr(tf.io.gfile, "copy", fail)
    with pytest.raises(tf.errors.UnavailableError, match="connection reset"):
        upload_version(local, f"{model}/1")
    assert not tf.io.gfile.exists(model) or tf.io.gfile.listdir(model) == []
