"""A SavedModel version exported locally, copied to a filesystem TensorFlow writes (`gs://`,
`ram://`, any `tf.io.gfile` scheme) where a server may be polling the model's folder.

Object stores have no atomic rename of a folder, so the files are first uploaded under a
hidden staging prefix TF Serving ignores (`.upload-<random>`, not an integer), then copied
into `<model>/<version>/` (server-side copies on GCS) with `saved_model.pb` last: a server
that lists the version while it is being filled finds no graph to load until every file the
graph names is there. The staging prefix is removed afterwards, also on failure."""

import os
import secrets

import tensorflow as tf

from kseg.remote_io import copy_new

GRAPH = "saved_model.pb"


def _files(folder):
    """'/'-separated paths of the files under local `folder`, relative to it, the graph last."""
    found = [
        os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/")
        for root, _, names in os.walk(folder) for name in names
    ]
    return sorted(found, key=lambda path: (path == GRAPH, path))


def upload_version(local, remote):
    """Copy the version folder `local` to `remote` (`<model dir URL>/<version>`), replacing
    what is there. Returns `remote`."""
    parent = remote.rstrip("/").rsplit("/", 1)[0]
    staging = f"{parent}/.upload-{secrets.token_hex(4)}"
    files = _files(local)
    try:
        for path in files:
            copy_new(os.path.join(local, *path.split("/")), f"{staging}/{path}")
        if tf.io.gfile.exists(remote):
            tf.io.gfile.rmtree(remote)
        for path in files:
            copy_new(f"{staging}/{path}", f"{remote}/{path}")
    finally:
        if tf.io.gfile.exists(staging):
            tf.io.gfile.rmtree(staging)
    return remote
