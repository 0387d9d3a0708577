"""The commands' output arguments, checked when they are parsed, before any work: local paths
(the writes are local renames and locks, `kseg.atomic`), a folder where a folder goes and a
file where a file goes. Each check is an argparse `type=`, so a bad path is one parser error
naming the option."""

import argparse
import os
import re

_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")


def url_scheme(path):
    """The scheme of `path` if it is a URL (`gs://b/x` -> "gs"), else None."""
    url = _URL.match(path)
    return url["scheme"] if url else None


def local_path(text):
    """`text` unchanged if it is a local path. A URL (`gs://`, `s3://`, `ram://`) would be
    written as a local folder named after its scheme: refused."""
    scheme = url_scheme(text)
    if scheme:
        raise argparse.ArgumentTypeError(
            f"{text} is a {scheme}:// URL, and this command writes local files only (it would make a local folder "
            f"'{scheme}:'): write to a local path and copy it over, or mount the bucket; training.fit --run-dir, "
            "training.make_records --out and export.saved_model --out write to any filesystem TensorFlow writes"
        )
    return text


def _check_parents(text):
    """Refuse a path under a file: its folders could not be made."""
    parent = os.path.dirname(os.path.abspath(text))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise argparse.ArgumentTypeError(f"{text} is under {parent}, which is a file, not a folder")


def output_folder(text):
    """`text` if it is a local path where a folder is or can be made."""
    local_path(text)
    if os.path.exists(text) and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} is a file; give a folder")
    _check_parents(text)
    return text


def output_folder_or_url(text):
    """`text` if it is a URL (a filesystem TensorFlow writes: the command writes through
    `tf.io.gfile`) naming a folder (`gs://bucket/...`, no `.`, `..` or empty segment in it:
    an object store keeps `gs://b//x` apart from `gs://b/x`), or a local folder as
    `output_folder` takes it."""
    if not url_scheme(text):
        return output_folder(text)
    parts = text.split("://", 1)[1].rstrip("/").split("/")
    if not any(parts) or any(part in (".", "..") for part in parts) or "" in parts[1:]:
        raise argparse.ArgumentTypeError(
            f"{text}: expected a folder URL like gs://bucket/path, without '.', '..' or '//' in its path"
        )
    return text


def output_file(text):
    """`text` if it is a local path where a file can be written (replacing a file that is there)."""
    local_path(text)
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} is a folder; give the path of the file to write")
    _check_parents(text)
    return text
