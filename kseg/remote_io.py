"""Files at URLs (`gs://`, `ram://`, any filesystem `tf.io.gfile` writes): the few operations
kseg's uploads need, each safe on an object store, where a file appears whole when its
upload ends but a folder cannot be renamed and an open-for-write may append (`ram://`)."""

import contextlib
import os
import secrets

import tensorflow as tf

from kseg.output_paths import url_scheme


@contextlib.contextmanager
def filesystem_errors_as(error_type, prefix):
    """TensorFlow's filesystem errors in the block (a bucket refusing, a scheme TensorFlow
    lacks) raised as one line, `error_type(f"{prefix}: <the first line of its message>")`."""
    try:
        yield
    except tf.errors.OpError as error:
        raise error_type(f"{prefix}: {error.message.splitlines()[0]}") from None


def join(base, *parts):
    """`base`/`parts`: a URL joined with "/", a local path with the OS's separator."""
    return "/".join([base.rstrip("/"), *parts]) if url_scheme(base) else os.path.join(base, *parts)


def copy_new(source, target):
    """Copy the file `source` (local, or a URL: a server-side copy) to `target`, which must not
    exist (some filesystems append to it: `ram://`), making its folders."""
    tf.io.gfile.makedirs(target.rsplit("/", 1)[0])
    tf.io.gfile.copy(source, target, overwrite=True)


def _staging(path):
    folder, name = path.rstrip("/").rsplit("/", 1)
    return f"{folder}/.{name}.tmp-{secrets.token_hex(4)}"


def upload(source, target):
    """Copy the file `source` to `target` beside it, then rename it over `target`: a reader
    sees the old file or the new one whole, on every filesystem."""
    staging = _staging(target)
    try:
        copy_new(source, staging)
        tf.io.gfile.rename(staging, target, overwrite=True)
    finally:
        if tf.io.gfile.exists(staging):
            tf.io.gfile.remove(staging)


def replace_text(path, text):
    """Write `text` to `path` (making its folders) beside it, then rename it over `path`: a reader sees the old
    text or the new, never a mix (on an object store one object is replaced by a copy of
    another)."""
    staging = _staging(path)
    tf.io.gfile.makedirs(path.rstrip("/").rsplit("/", 1)[0])
    with tf.io.gfile.GFile(staging, "w") as f:
        f.write(text)
    tf.io.gfile.rename(staging, path, overwrite=True)
    return path


def read_text(path):
    """The text of the file at `path`, or None when there is none."""
    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            return f.read().decode("utf-8")
    except tf.errors.NotFoundError:
        return None
