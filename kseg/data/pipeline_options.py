"""The tf.data options every kseg input pipeline runs with (training and evaluation
streams, file pairs and records, read in process or from a tf.data service)."""

import tensorflow as tf


def without_autotune_model(dataset):
    """`dataset`, and every dataset built on it, without tf.data's autotuning model.

    Its `num_parallel_calls=AUTOTUNE` maps then run min(16, schedulable CPUs) calls at a
    time for the whole run instead of a count the model tunes; `prefetch(AUTOTUNE)` buffers
    still grow on demand (their own tuner).

    Why: with one schedulable CPU (a one-vCPU machine, a container pinned to a core), freeing
    an iterator -- the end of every `model.fit` call -- waits for the model's thread to wake
    from a sleep that doubles up to 60 s. Measured on an AMD EPYC, 2026-12-06, Eigen
    (`python benchmarks/iterator_release.py`): 39 s after the last of 300 steps of the
    default preset, 0.01 s without the model; the whole default run on one CPU lost 55 s of
    its 6 min 9 s there. On two CPUs neither waits, and the preset trains as fast without
    the model (oneDNN on and off).
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)
