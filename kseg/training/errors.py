"""The errors a training run reports to the user as one line (training.fit exits 1)."""

from kseg.data.sources import DataError
from kseg.training.checkpoint import IncompleteCheckpointError
from kseg.training.guards import TrainingDiverged
from kseg.training.run_lock import RunLockedError

RUN_ERRORS = (DataError, TrainingDiverged, RunLockedError, IncompleteCheckpointError, FileNotFoundError)
