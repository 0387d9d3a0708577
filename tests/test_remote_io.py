"""Files at URLs (kseg/remote_io.py), on TensorFlow's in-memory `ram://` filesystem."""

import os

import tensorflow as tf

from kseg.remote_io import join, read_text, replace_text, upload


def test_join_uses_slashes_for_urls_and_the_os_separator_for_paths():
    assert join("gs://b/runs/", "x", "checkpoint") == "gs://b/runs/x/checkpoint"
    assert join("runs", "x") == os.path.join("runs", "x")


def test_upload_makes_folders_and_replaces_what_is_there(tmp_path):
    base = f"ram://{tmp_path.name}-io"
    (tmp_path / "a").write_text("first")
    upload(str(tmp_path / "a"), f"{base}/deep/folder/a")
    (tmp_path / "a").write_text("2nd")
    upload(str(tmp_path / "a"), f"{base}/deep/folder/a")
    assert read_text(f"{base}/deep/folder/a") == "2nd"  # ram://'s copies append to what is there: not replaced this way
    assert tf.io.gfile.listdir(f"{base}/deep/folder") == ["a"]  # no staging left


def test_replace_text_replaces_on_a_filesystem_whose_writes_append(tmp_path):
    # ram://'s writable files append to what is there: the text must not accumulate
    path = f"ram://{tmp_path.name}-io/lease"
    replace_text(path, "one")
    replace_text(path, "two")
    assert read_text(path) == "two"
    assert [name for name in tf.io.gfile.listdir(f"ram://{tmp_path.name}-io")] == ["lease"]  # no staging left
    assert read_text(f"ram://{tmp_path.name}-io/missing") is None


def test_every_write_makes_its_folders_where_a_filesystem_has_folders(tmp_path):
    # file:// is the local filesystem through TensorFlow: a file cannot be made in a missing folder
    replace_text(f"file://{tmp_path}/new/folder/lease", "x")
    (tmp_path / "a").write_text("a")
    upload(str(tmp_path / "a"), f"file://{tmp_path}/other/folder/a")
    assert (tmp_path / "new" / "folder" / "lease").read_text() == "x" and (tmp_path / "other" / "folder" / "a").read_text() == "a"
