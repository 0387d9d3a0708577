"""The errors a training run reports to the user as one line (training.fit exits 1)."""

import errno
import os

from kseg.data.sources import DataError
from kseg.training.checkpoint import IncompleteCheckpointError
from kseg.training.guards import TrainingDiverged
from kseg.training.init_from import InitFromError
from kseg.training.run_lock import RunLockedError
from kseg.training.run_mirror import RemoteRunError

RUN_ERRORS = (
    DataError, TrainingDiverged, RunLockedError, IncompleteCheckpointError, FileNotFoundError, InitFromError,
    RemoteRunError,
)

# errno -> (what TensorFlow's message says, what it means for the user)
_STORAGE = {
    errno.ENOSPC: ("No space left on device", "no space left on the device"),
    errno.EDQUOT: ("Disk quota exceeded", "the disk quota is used up"),
    errno.EROFS: ("Read-only file system", "the file system is read-only"),
    errno.EACCES: ("Permission denied", "permission denied"),
}


def _folder_size(path):
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total


def storage_problem(error):
    """(the file or None, what the disk refused: "no space left on the device", ...) for a
    write the disk refused (full, over quota, read-only, not permitted) -- an `OSError` or a
    TensorFlow error saying so (checkpoint and SavedModel writes) -- or None for any other error."""
    code = getattr(error, "errno", None)
    if not isinstance(error, OSError) or code not in _STORAGE:
        text = str(getattr(error, "message", "") or "")
        code = next((c for c, (said, _) in _STORAGE.items() if said in text), None)
        if code is None or not type(error).__module__.startswith("tensorflow"):
            return None
    return getattr(error, "filename", None), _STORAGE[code][1]


def storage_error(error, run_dir):
    """One line for a write the disk refused (`storage_problem`) during a run, or None for
    any other error. Nothing half-written is left visible by kseg's writes (they are
    atomic), and the next run in `run_dir` removes the staging files and resumes from the
    last complete checkpoint."""
    problem = storage_problem(error)
    if problem is None:
        return None
    where, meaning = problem
    size = _folder_size(run_dir) / 2**20
    return (
        f"cannot write {where or run_dir}: {meaning}; the run folder {run_dir} holds {size:.1f} MB and keeps every "
        f"complete checkpoint: free space (or fix the permissions) and run the same command again to resume"
    )
