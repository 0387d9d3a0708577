"""Models named by a URL (`--model gs://bucket/runs/x`, any filesystem `tf.io.gfile` reads),
fetched into a local folder that lasts as long as the command: what the commands read of a
run folder (its `.keras` models, `config.yaml` and `crf_search.json`), or of a model file
(the file and those two beside it), or a SavedModel folder whole.

The commands take these through the argparse type `model_input`, so everything after parsing
reads local files as before; `fetched_from` tells a command where a local copy came from
(tune_crf uploads its result beside the model in the bucket)."""

import argparse
import atexit
import os
import shutil
import tempfile

from kseg.output_paths import url_scheme
from kseg.run_folder import MODEL_OPTIONS

BESIDE_A_MODEL = ("config.yaml", "crf_search.json")  # what the commands read beside a model (kseg.run_folder)
_ROOT = []  # the process's fetch folder, made on first use
_SOURCES = {}  # a local folder -> the URL of the folder it copies (of a fetched file: the file's folder)


def _root():
    if not _ROOT:
        _ROOT.append(tempfile.mkdtemp(prefix="kseg-fetched-"))
        atexit.register(shutil.rmtree, _ROOT[0], True)
    return _ROOT[0]


def _copy(url, target):
    import tensorflow as tf

    os.makedirs(os.path.dirname(target), exist_ok=True)
    tf.io.gfile.copy(url, target, overwrite=True)


def _copy_tree(url, target):
    import tensorflow as tf

    for folder, _, names in tf.io.gfile.walk(url):
        relative = folder[len(url):].strip("/")
        for name in names:
            _copy(f"{folder.rstrip('/')}/{name}", os.path.join(target, *(relative.split("/") if relative else []), name))


def _copy_beside(folder_url, target_folder, names):
    import tensorflow as tf

    for name in names:
        if tf.io.gfile.exists(f"{folder_url}/{name}"):
            _copy(f"{folder_url}/{name}", os.path.join(target_folder, name))


def fetch(url):
    """The local copy of the run folder, model file or SavedModel folder at `url` (see the
    module's docstring). Raises FileNotFoundError when there is nothing there."""
    import tensorflow as tf

    url = url.rstrip("/")
    folder = tempfile.mkdtemp(dir=_root())
    target = os.path.join(folder, url.rsplit("/", 1)[-1])
    if tf.io.gfile.isdir(url):
        if tf.io.gfile.exists(f"{url}/saved_model.pb"):
            _copy_tree(url, target)
        else:
            os.makedirs(target)
            models = [name for name in tf.io.gfile.listdir(url) if name.endswith(".keras")]
            if not models:
                raise FileNotFoundError(f"{url} holds no .keras model and no SavedModel (is it a finished training run?)")
            _copy_beside(url, target, models + list(BESIDE_A_MODEL))
        _SOURCES[target] = url
    elif tf.io.gfile.exists(url):
        _copy(url, target)
        _copy_beside(url.rsplit("/", 1)[0], folder, BESIDE_A_MODEL)
        _SOURCES[folder] = url.rsplit("/", 1)[0]
    else:
        raise FileNotFoundError(f"no such file or folder: {url}")
    return target


def model_input(text):
    """argparse type: `text` unchanged if it is a local path, else `fetch(text)`; a URL that
    cannot be read is a parser error naming it."""
    if not url_scheme(text):
        return text
    from kseg.remote_io import filesystem_errors_as

    with filesystem_errors_as(argparse.ArgumentTypeError, text):
        try:
            return fetch(text)
        except FileNotFoundError as error:
            raise argparse.ArgumentTypeError(str(error)) from None


def fetched_from(path):
    """The URL whose local copy `path` is, or None (a local file)."""
    for local, url in _SOURCES.items():
        if path == local:
            return url
        if path.startswith(local + os.sep):
            return url + "/" + os.path.relpath(path, local).replace(os.sep, "/")
    return None


def add_model_argument(parser, what):
    """The commands' `--model` / `--run` (`kseg.run_folder.MODEL_OPTIONS`) naming `what`, local or at a URL."""
    parser.add_argument(*MODEL_OPTIONS, dest="model", required=True, type=model_input, help=f"{what}, local or at a URL")
