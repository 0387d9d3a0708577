"""The files a training run keeps in its folder, named in one place.

```
runs/<name>/
  config.yaml        the resolved config the run was started with (a resumed run compares against it)
  run.lock           one writer at a time (kseg.training.run_lock)
  checkpoints/       tf.train.Checkpoint of the model and its optimizers (the last 3)
  logs/              TensorBoard; logs/validation with train.eval_every
  model.keras        the trained model (a GAN: both networks); generator.keras, a GAN's segmenter
  best/              model.keras and result.json of the best validation so far (train.eval_every)
  eval/              metrics.json, metrics.md, the confusion matrix, predictions/
  serving/           <name>/<version>/ SavedModels and models.config for TF Serving
  model.onnx         the ONNX export
  crf_search.json    training.tune_crf's parameters, used by evaluate, predict and export
  result.json        the finished run's summary (written last)
  stage-<i>-<name>/  a staged run's stages, each a run folder of its own
  worker-<i>/        a multi-worker run's non-chief workers, each a run folder of its own
```
"""

import os
from dataclasses import dataclass

# The option naming a trained model in the commands that read one: a run folder or a model
# file, spelt either way (`--run runs/x` as in evaluate, or `--model runs/x/model.keras`).
MODEL_OPTIONS = ("--model", "--run")
WORKER_FOLDERS = "worker-[0-9]*"  # `RunFolder.worker`'s names, as a glob


@dataclass(frozen=True)
class RunFolder:
    """The paths of a run folder `path` (see the module's docstring). Nothing is created."""

    path: str

    @classmethod
    def of(cls, path):
        """The run folder `path` is, or the one a file `path` lies in (e.g. `<run>/model.keras`)."""
        return cls(path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path)))

    def _join(self, *parts):
        return os.path.join(self.path, *parts)

    config = property(lambda self: self._join("config.yaml"))
    lock = property(lambda self: self._join("run.lock"))
    checkpoints = property(lambda self: self._join("checkpoints"))
    logs = property(lambda self: self._join("logs"))
    validation_logs = property(lambda self: self._join("logs", "validation"))
    model = property(lambda self: self._join("model.keras"))
    best = property(lambda self: self._join("best"))
    best_model = property(lambda self: self._join("best", "model.keras"))
    best_result = property(lambda self: self._join("best", "result.json"))
    eval = property(lambda self: self._join("eval"))
    serving = property(lambda self: self._join("serving"))
    onnx = property(lambda self: self._join("model.onnx"))
    crf_search = property(lambda self: self._join("crf_search.json"))
    result = property(lambda self: self._join("result.json"))

    def part(self, filename):
        """Another saved network of the run, e.g. `generator.keras` (`Task.saved_parts`)."""
        return self._join(filename)

    def stage(self, index, name):
        """Stage `index` (from 1) of a staged run."""
        return RunFolder(self._join(f"stage-{index}-{name}"))

    def worker(self, index):
        """The folder of multi-worker worker `index` > 0 (the chief writes the run folder itself)."""
        return RunFolder(self._join(f"worker-{index}"))

    @property
    def has_checkpoint(self):
        return os.path.isfile(os.path.join(self.checkpoints, "checkpoint"))
