"""Workarounds for two bugs in Keras's TensorFlow trainer that stop `fit` under
`tf.distribute.MultiWorkerMirroredStrategy` (verified on Keras 3.15.1):

1. `TensorFlowTrainer._maybe_symbolic_build` reduces the first batch (a tuple of
   `PerReplica` values) with `strategy.reduce`, which the multi-worker strategy rejects
   ("Attempt to convert a value (PerReplica...)", keras-team/keras#20585). The batch only
   provides shapes for building, so the local replica's value is used instead.
2. `reduce_per_replica(..., "mean")` reduces each log value with `axis=0`, which fails on
   the scalar losses and metrics ("Invalid reduction dimension 0 for input with 0
   dimensions"). The mean over replicas is `axis=None`.

Both touch private Keras APIs, so they are applied only to the Keras versions they were
tested with (`PATCHED_KERAS`), and only when the strategy is multi-worker.
"""

import functools
import warnings

import keras

PATCHED_KERAS = ((3, 15), (3, 15))  # inclusive (major, minor) range where the bugs were seen and fixed here


def _version():
    return tuple(int(p) for p in keras.__version__.split(".")[:2])


def needs_patch():
    low, high = PATCHED_KERAS
    return low <= _version() <= high


def patch_multi_worker_fit():
    """Apply both workarounds (idempotent). Returns True when applied, False (with a
    warning) on a Keras version outside `PATCHED_KERAS`, where `fit` may or may not work."""
    from keras.src.backend.tensorflow import trainer as tf_trainer
    from keras.src import tree

    if getattr(tf_trainer, "_kseg_multi_worker_patch", False):
        return True
    if not needs_patch():
        warnings.warn(
            f"kseg's multi-worker workarounds were tested with Keras {PATCHED_KERAS[0]}-{PATCHED_KERAS[1]}; "
            f"Keras {keras.__version__} is used unpatched"
        )
        return False
    tf = tf_trainer.tf
    original_build = tf_trainer.TensorFlowTrainer._maybe_symbolic_build
    original_reduce = tf_trainer.reduce_per_replica

    @functools.wraps(original_build)
    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if iterator is None or strategy is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return original_build(self, iterator=iterator, data_batch=data_batch)
        for _, _, it in iterator:
            batch = next(it)
            data_batch = tree.map_structure(
                lambda v: strategy.experimental_local_results(v)[0] if isinstance(v, tf.distribute.DistributedValues) else v,
                batch,
            )
            break
        return original_build(self, iterator=None, data_batch=data_batch)

    @functools.wraps(original_reduce)
    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original_reduce(values, strategy, reduction)

    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
    tf_trainer.reduce_per_replica = reduce_per_replica
    tf_trainer._kseg_multi_worker_patch = True
    return True
