"""Atomic writes: a file or folder appears complete under its final name, or not at all.

Everything is first written under a hidden sibling name in the same folder (same
filesystem, so the final `os.replace` / `os.rename` is atomic) and then renamed. Files and
folders get the permissions an ordinary write gets (0666 / 0777 minus the umask), unlike
`tempfile.mkstemp` / `mkdtemp` (0600 / 0700), so a server running as another user (TF
Serving in a container) can read what was exported.

Staging names carry the writer's PID and host (`.<name>.tmp-<pid>@<host>-<random>`, plus
an extension where a writer insists on one, as Keras' `model.save` does), so
`remove_stale_staging` can clear what an interrupted writer left without touching the
staging of a writer that is still running.
"""

import contextlib
import json
import os
import re
import secrets
import shutil
import socket

_STAGING = re.compile(r"^\..*\.tmp-(?P<pid>[0-9]+)@(?P<host>[^-/]*)-[0-9a-f]+(\.[A-Za-z0-9]+)?$")


def _host():
    return socket.gethostname().replace("-", "_")


def staging_name(path):
    """A hidden sibling of `path` no other writer uses."""
    folder, base = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{base}.tmp-{os.getpid()}@{_host()}-{secrets.token_hex(4)}")


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a staging path for a file or folder; on success it replaces `path`.

    An existing folder at `path` is moved aside first and deleted after the rename. On an
    exception the staging path is removed and `path` is untouched.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = staging_name(path)
    try:
        yield tmp
        if os.path.isdir(tmp) and os.path.isdir(path):
            aside = staging_name(path)
            os.rename(path, aside)
            os.rename(tmp, path)
            _remove(aside)
        else:
            os.replace(tmp, path)
    finally:
        _remove(tmp)


def write_bytes(path, data):
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return path


def write_text(path, text):
    return write_bytes(path, text.encode("utf-8"))


def write_json(path, value):
    return write_text(path, json.dumps(value, indent=2) + "\n")


def copy_file(source, path):
    with atomic_path(path) as tmp:
        shutil.copyfile(source, tmp)
    return path


def make_staging_dir(path):
    """Create and return an empty staging folder for `path` (ordinary permissions)."""
    tmp = staging_name(path)
    os.makedirs(tmp)
    return tmp


def pid_alive(pid):
    """Whether process `pid` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_staging(folder):
    """Remove staging files and folders in `folder` left by writers of this host that are
    no longer running. Returns the removed paths."""
    if not os.path.isdir(folder):
        return []
    removed = []
    for name in os.listdir(folder):
        match = _STAGING.match(name)
        if not match or match["host"] != _host() or pid_alive(int(match["pid"])):
            continue
        _remove(os.path.join(folder, name))
        removed.append(os.path.join(folder, name))
    return removed
