"""tf.data pipelines: file pairs -> decoded, checked, augmented, batched examples."""

import random

import tensorflow as tf

from kseg.data.augment import augment
from kseg.data.decode import BadExamples, read_pair_op
from kseg.data.pipeline_options import without_autotune_model
from kseg.data.records import RecordsSplit
from kseg.data.records_pipeline import records_evaluation_dataset, records_training_dataset

AUTOTUNE = tf.data.AUTOTUNE


def segmentation_dataset(
    pairs,
    num_classes,
    training,
    batch_size=1,
    crop_size=None,
    scale_range=None,
    flip=False,
    seed=None,
    label_table=None,
    skip_bad_examples=False,
    max_bad_fraction=0.1,
    repeat=False,
    start_batch=0,
    shard_hint=False,
    photometric=None,
):
    """Build the input pipeline for a list of (image_path, mask_path) pairs.

    Training: a new permutation every epoch, parallel decode, augmentation (scale -> crop
    -> `photometric` jitter when given, a `kseg.data.photometric.Photometric` -> pad -> flip,
    `kseg.data.augment`) seeded per example, batches of `batch_size` (last partial batch of
    each pass dropped unless `repeat`), prefetch; no autotuning model (`pipeline_options`).
    Evaluation (`training=False`): in order, no augmentation, images at their own size, so
    `batch_size` should be 1 unless all images share a size.

    The training stream is a pure function of `seed` (drawn at random when None) and the
    position: epoch e is permutation (seed, e), example k is augmented with seed (seed, k).
    So every iterator yields the same batches (Keras and tf.distribute may create several;
    `tf.data`'s `shuffle(seed=...)` would differ), and `start_batch` resumes the stream
    where an interrupted run stopped without decoding the skipped examples.

    `skip_bad_examples`: False (a bad file stops the pipeline with a TensorFlow error
    carrying the `DataError` naming it), True (skip and log bad pairs; the stream ends once
    more than `max_bad_fraction` of `pairs` are bad, or all of them), or a
    `kseg.data.BadExamples` that records what was skipped (shared by the pipelines of one
    split; its `fatal` says why a stream ended). Iterate inside
    `kseg.data.named_data_errors()` to get either as a one-line `DataError`. Skipped files
    shift later batches.

    `pairs` may be a `kseg.data.records.RecordsSplit` (`data.format: records`): the same
    stream from TFRecords in TF ops only (`kseg.data.records_pipeline`; `label_table` and
    `skip_bad_examples` do not apply, `shard_hint` prepares it for `kseg.data.service`).

    Yields: (images float32 (B, H, W, 3) in [0, 255], masks int32 (B, H, W) in
    [0, num_classes) or 255).
    """
    if training and crop_size is None:
        raise ValueError("crop_size is required for training (batches need a common size)")
    if not pairs:
        raise ValueError("segmentation_dataset got no (image, mask) pairs")
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    if isinstance(pairs, RecordsSplit):
        if not training:
            return records_evaluation_dataset(pairs, num_classes, batch_size)
        return records_training_dataset(pairs, num_classes, batch_size, crop_size, scale_range, flip, seed, start_batch,
                                        repeat, shard_hint, photometric=photometric)
    if skip_bad_examples is True:
        skip_bad_examples = BadExamples(len(pairs), "the dataset", max_bad_fraction)
    image_paths = tf.constant([p[0] for p in pairs])
    mask_paths = tf.constant([p[1] for p in pairs])
    read = lambda i, m: read_pair_op(i, m, num_classes, label_table, skip_bad_examples)  # noqa: E731
    if not training:
        ds = tf.data.Dataset.from_tensor_slices((image_paths, mask_paths))
        ds = ds.map(read, num_parallel_calls=AUTOTUNE).take_while(_not_stopped).filter(_is_ok).map(_drop_flags)
        ds = ds.map(lambda image, mask: (tf.cast(image, tf.float32), tf.cast(mask, tf.int32)))
        return without_autotune_model(ds.batch(batch_size).prefetch(AUTOTUNE))

    ds = training_order(len(pairs), seed, repeat).skip(start_batch * batch_size)

    def read_and_augment(position, index):
        image, mask, ok, stop = read(tf.gather(image_paths, index), tf.gather(mask_paths, index))
        example_seed = tf.stack([tf.constant(seed, tf.int64), position])
        image, mask = augment(image, mask, example_seed, crop_size, scale_range, flip, photometric)
        return image, tf.cast(mask, tf.int32), ok, stop

    ds = ds.map(read_and_augment, num_parallel_calls=AUTOTUNE, deterministic=True)
    ds = ds.take_while(_not_stopped).filter(_is_ok).map(_drop_flags)
    return without_autotune_model(ds.batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE))


def training_order(count, seed, repeat):
    """(position int64, index int32) pairs: one permutation of range(count) per epoch, the
    permutation of epoch e drawn from the stateless seed (seed, e); position counts
    examples from the start of the stream. One epoch, or endless with `repeat`."""
    epochs = tf.data.Dataset.counter() if repeat else tf.data.Dataset.range(1)
    order = epochs.flat_map(
        lambda epoch: tf.data.Dataset.from_tensor_slices(
            tf.argsort(tf.random.stateless_uniform([count], tf.stack([tf.constant(seed, tf.int64), epoch])))
        )
    )
    return tf.data.Dataset.zip((tf.data.Dataset.counter(), order))


def _not_stopped(image, mask, ok, stop):
    return tf.logical_not(stop)


def _is_ok(image, mask, ok, stop):
    return ok


def _drop_flags(image, mask, ok, stop):
    return image, mask
