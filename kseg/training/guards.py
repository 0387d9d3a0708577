"""Callbacks that keep a diverged run from leaving anything behind.

`DivergenceGuard` stops training at the first step whose loss is not finite and records
that step; `GoodCheckpoints` writes a checkpoint at the end of every checkpoint chunk only
when the loss is finite and every weight is finite, so the newest checkpoint of a run is
always one it can resume from. The trainer turns a recorded divergence into
`TrainingDiverged` before it saves, evaluates or exports anything.
"""

import math

import keras
import tensorflow as tf


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; nothing was saved or exported."""


def _non_finite_losses(logs):
    return {k: v for k, v in (logs or {}).items() if k.endswith("loss") and not math.isfinite(float(v))}


class DivergenceGuard(keras.callbacks.Callback):
    """Stops `fit` at the first batch whose logged losses are not finite; `step` is the
    optimizer step at the end of the call into the train step that saw it (that call runs
    `train.steps_per_execution` steps; None while training is sane)."""

    def __init__(self):
        super().__init__()
        self.step = None
        self.losses = {}

    def on_train_batch_end(self, batch, logs=None):
        bad = _non_finite_losses(logs)
        if bad and self.step is None:
            self.step = int(self.model.optimizer.iterations.numpy())
            self.losses = {k: float(v) for k, v in bad.items()}
            self.model.stop_training = True


def all_finite(variables):
    checks = [tf.reduce_all(tf.math.is_finite(v)) for v in variables if "float" in str(v.dtype)]
    return bool(tf.reduce_all(checks)) if checks else True


class GoodCheckpoints(keras.callbacks.Callback):
    """Saves model + optimizers (step counter, momenta) at the end of every "epoch" of
    `checkpoint_every` steps, unless the run diverged or any weight is not finite."""

    def __init__(self, manager, guard, variables):
        super().__init__()
        self.manager = manager
        self.guard = guard
        self.variables = variables

    def on_epoch_end(self, epoch, logs=None):
        if self.guard.step is not None or _non_finite_losses(logs) or not all_finite(self.variables):
            return
        self.manager.save(checkpoint_number=int(self.model.optimizer.iterations.numpy()))


def diverged_error(guard, manager):
    latest = manager.latest_checkpoint
    resume = (
        f"the last good checkpoint is {latest}: rerun with a lower optimizer.learning_rate to resume from it"
        if latest
        else "there is no good checkpoint: rerun with a lower optimizer.learning_rate to start again"
    )
    losses = ", ".join(f"{k}={v}" for k, v in guard.losses.items()) or "non-finite weights"
    return TrainingDiverged(
        f"training diverged by step {guard.step} ({losses}); no model was saved, evaluated or exported; {resume}"
    )
