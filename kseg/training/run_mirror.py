"""A run folder in a bucket (`training.fit --run-dir gs://bucket/runs/x`, or any filesystem
`tf.io.gfile` writes): the run trains in a local working copy and the bucket is kept in step
with it, so a run whose machine is gone (a preempted VM) resumes on another one.

- **Working copy:** `$KSEG_WORK_DIR/<scheme>/<bucket>/<path>` (default `~/.cache/kseg/runs/...`).
  When the run starts it is replaced by what the bucket holds (the bucket is the truth), and
  the run resumes from the bucket's last checkpoint like any local run.
- **Uploads:** after every checkpoint (each `train.checkpoint_every` steps), after every
  validation, at the end, and when the run fails or is stopped, the files that changed are
  uploaded and the files the run removed (checkpoints beyond the last 3) are deleted.
  Training waits for each upload.
- **Order:** a file that names others goes after them (`MARKERS`: the checkpoint index
  after the checkpoint's shards, `saved_model.pb` after the variables, `result.json` last),
  and deletions come after every upload, so a run stopped mid-upload leaves the bucket
  with a complete last checkpoint (GCS and S3 show an object only once its upload is whole).
- **Outputs** (`PUSH_ONLY`: TensorBoard logs, the evaluation, the exports) are uploaded but
  neither downloaded when a run resumes nor deleted: a resumed run writes them anew.
- **One writer:** `kseg.training.remote_lease`; every multi-worker worker mirrors its own folder.
"""

import contextlib
import fnmatch
import os
import shutil

import tensorflow as tf

from kseg.atomic import write_json
from kseg.output_paths import url_scheme
from kseg.remote_io import filesystem_errors_as, join, upload
from kseg.run_folder import WORKER_FOLDERS, RunFolder
from kseg.training.remote_lease import RemoteLease
from kseg.training.run_dir import CHECKPOINT_LITTER

PUSH_ONLY = ("logs", "eval", "serving", "model.onnx")
MARKERS = ("checkpoint", "saved_model.pb", "models.config", "result.json")


class RemoteRunError(RuntimeError):
    """The bucket holding a run folder refused a read or a write."""


def working_copy(url):
    """The local folder the run folder `url` trains in."""
    base = os.environ.get("KSEG_WORK_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "kseg", "runs")
    parts = [part for part in url.split("://", 1)[1].split("/") if part]
    return os.path.join(base, url_scheme(url), *parts)


def mirrored(relative):
    """Whether the run folder's file `relative` ("/"-separated) is kept in the bucket: not a
    lock, a staging file of an unfinished write, or another worker's folder."""
    parts = relative.split("/")
    if parts[-1] == "run.lock" or any(part.startswith(".") for part in parts):
        return False
    if fnmatch.fnmatch(parts[0], WORKER_FOLDERS):
        return False
    return not any(fnmatch.fnmatch(part, pattern) for part in parts for pattern in CHECKPOINT_LITTER)


def push_only(relative):
    return any(part in PUSH_ONLY for part in relative.split("/"))


def _upload_order(relative):
    """Files before the markers that name them; deeper markers first (a stage's result.json before the run's)."""
    name = relative.rsplit("/", 1)[-1]
    return (name in MARKERS, MARKERS.index(name) if name in MARKERS else 0, -relative.count("/"), relative)


def remote_errors(url):
    """TensorFlow's filesystem errors on `url` as one `RemoteRunError` line."""
    return filesystem_errors_as(RemoteRunError, url)


class RunMirror:
    """The run folder `url` and its working copy `local`: `pull` once, then `push`."""

    def __init__(self, url):
        self.url, self.local = url.rstrip("/"), working_copy(url)
        self.uploaded = {}  # relative path -> (size, mtime) of the local file the bucket holds

    def _local_files(self):
        found = {}
        for folder, _, names in os.walk(self.local):
            for name in names:
                path = os.path.join(folder, name)
                relative = os.path.relpath(path, self.local).replace(os.sep, "/")
                if mirrored(relative):
                    stat = os.stat(path)
                    found[relative] = (stat.st_size, stat.st_mtime_ns)
        return found

    def _remote_files(self):
        return [
            relative
            for folder, _, names in tf.io.gfile.walk(self.url)
            for name in names
            if mirrored(relative := join(folder, name)[len(self.url) + 1:])
        ]

    def pull(self):
        """Replace the working copy by the bucket's run folder (its outputs left out)."""
        with remote_errors(self.url):
            files = [relative for relative in self._remote_files() if not push_only(relative)]
            os.makedirs(self.local, exist_ok=True)
            for name in os.listdir(self.local):  # other workers' folders (same machine) stay
                if not fnmatch.fnmatch(name, WORKER_FOLDERS):
                    _remove(os.path.join(self.local, name))
            for relative in files:
                target = os.path.join(self.local, *relative.split("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                tf.io.gfile.copy(join(self.url, relative), target, overwrite=True)
        if files:
            print(f"Downloaded {len(files)} files of {self.url} to {self.local}", flush=True)
        self.uploaded = self._local_files()

    def push(self):
        """Upload what changed since the last push or pull, markers last, then delete what
        the run removed."""
        files = self._local_files()
        changed = sorted((r for r, state in files.items() if self.uploaded.get(r) != state), key=_upload_order)
        removed = sorted(r for r in self.uploaded if r not in files and not push_only(r))
        with remote_errors(self.url):
            for relative in changed:
                upload(os.path.join(self.local, *relative.split("/")), join(self.url, relative))
                self.uploaded[relative] = files[relative]
            for relative in removed:
                with contextlib.suppress(tf.errors.NotFoundError):
                    tf.io.gfile.remove(join(self.url, relative))
                del self.uploaded[relative]

    def to_url(self, value):
        """`value` (a result: nested dicts and lists) with working-copy paths as the bucket's URLs."""
        if isinstance(value, dict):
            return {key: self.to_url(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.to_url(item) for item in value]
        if isinstance(value, str) and (value == self.local or value.startswith(self.local + os.sep)):
            return self.url + value[len(self.local):].replace(os.sep, "/")
        return value

    def finish(self, result):
        """`result` naming the bucket's files, written as the run's result.json."""
        result = self.to_url(result)
        write_json(RunFolder(self.local).result, result)
        return result


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.remove(path)


@contextlib.contextmanager
def remote_run_folder(url):
    """Hold the lease of the run folder `url`, pull it into its working copy and yield the
    `RunMirror`; push at the end, also when the block fails (then an upload error is printed
    and the block's own error raised)."""
    mirror = RunMirror(url)
    with remote_errors(url):
        lease = RemoteLease(url).acquire()
    try:
        mirror.pull()
        try:
            yield mirror
        except BaseException:
            try:
                mirror.push()
            except RemoteRunError as error:
                print(f"Could not upload the run's last files: {error}", flush=True)
            raise
        mirror.push()
    finally:
        try:
            with remote_errors(url):
                lease.release()
        except RemoteRunError as error:  # it goes stale by itself
            print(f"Could not remove the lease of {url}: {error}", flush=True)
