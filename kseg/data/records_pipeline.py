"""tf.data pipelines over a records folder (`data.format: records`): TensorFlow ops only, so
they run on tf.data service workers and TPU hosts, read any filesystem `tf.io.gfile` reads,
and decode images as the exported serving graph does.

The training stream is a pure function of the seed and the position, as the file-pair
pipeline's (`kseg.data.pipeline`): epoch e reads the shards in the order of the stateless
permutation (seed, e), interleaved `INTERLEAVE` at a time, and permutes the records in
windows of `SHUFFLE_WINDOW` (permutation (seed, e, window)); example k is augmented with
seed (seed, k). Every iterator yields the same batches, and `start_batch` resumes the
stream by skipping serialized records, none decoded.
"""

import tensorflow as tf

from kseg.data.augment import augment
from kseg.data.pipeline_options import without_autotune_model
from kseg.data.records import SHARDS_READ, decode_record, read_record

AUTOTUNE = tf.data.AUTOTUNE
INTERLEAVE = 8  # shards read at once
SHUFFLE_WINDOW = 256  # records permuted together (serialized: ~100 MB at Cityscapes' size)


def _key(seed, *values, worker=0):
    key = tf.stack([tf.constant(seed, tf.int64), tf.constant(worker, tf.int64)])
    for value in values:
        key = tf.random.experimental.stateless_fold_in(key, tf.cast(value, tf.int64))
    return key


def _permuted(count, key):
    return tf.argsort(tf.random.stateless_uniform([count], key))


def _epoch_records(files, seed, epoch, worker=0):
    """The serialized records of one epoch, in its shuffled order."""
    order = tf.gather(tf.constant(files), _permuted(len(files), _key(seed, epoch, worker=worker)))
    records = tf.data.Dataset.from_tensor_slices(order).interleave(
        tf.data.TFRecordDataset, cycle_length=min(INTERLEAVE, len(files)), block_length=1,
        num_parallel_calls=min(INTERLEAVE, len(files)), deterministic=True,  # reads in parallel (gs://), in a fixed order
    )
    windows = tf.data.Dataset.zip((tf.data.Dataset.counter(), records.batch(SHUFFLE_WINDOW)))
    return windows.flat_map(
        lambda w, batch: tf.data.Dataset.from_tensor_slices(tf.gather(batch, _permuted(tf.shape(batch)[0], _key(seed, epoch, w, worker=worker))))
    )


def records_training_dataset(
    split, num_classes, batch_size, crop_size, scale_range=None, flip=False, seed=0, start_batch=0, repeat=True,
    shard_hint=False, file_shard=(0, 1), photometric=None,
):
    """The augmented training stream of a `kseg.data.records.RecordsSplit` (endless with
    `repeat`, else one epoch): (images float32 `(B, h, w, 3)` in [0, 255], masks int32
    `(B, h, w)`), `(h, w)` = `crop_size`. `shard_hint`: for tf.data service workers
    (`ShardingPolicy.HINT`, `kseg.data.service`): worker i of n decodes and augments the
    examples at positions i, i + n, ... only (reading every record, decoding its own).
    `file_shard` (i, n): the stream of input pipeline i of n in a run sharded by file
    (`files_per_worker`): shards i, i + n, ... only, with draws of its own (pipeline 0's
    are the unsharded stream's)."""
    worker, workers = file_shard
    files = split.files[worker::workers]
    SHARDS_READ.update(files)
    epochs = tf.data.Dataset.counter() if repeat else tf.data.Dataset.range(1)
    epochs = epochs.flat_map(lambda epoch: _epoch_records(files, seed, epoch, worker))
    ds = tf.data.Dataset.zip((tf.data.Dataset.counter(), epochs)).skip(start_batch * batch_size)
    if shard_hint:
        ds = ds.shard(tf.data.experimental.SHARD_HINT, tf.data.experimental.SHARD_HINT)

    def decode_and_augment(position, record):
        image, mask = read_record(record, num_classes)
        key = tf.stack([tf.constant(seed, tf.int64), position])
        if worker:
            key = tf.random.experimental.stateless_fold_in(key, worker)
        image, mask = augment(image, mask, key, crop_size, scale_range, flip, photometric)
        return image, tf.cast(mask, tf.int32)

    ds = ds.map(decode_and_augment, num_parallel_calls=AUTOTUNE, deterministic=True)
    return without_autotune_model(ds.batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE))


def files_per_worker(split, workers):
    """Whether a run of `workers` input pipelines reads `split` sharded by file (each its
    own shards: enough of them that every worker has one) rather than by data (each reads
    every shard and keeps its share of each global batch)."""
    return workers > 1 and len(split.files) >= workers


def records_evaluation_dataset(split, num_classes, batch_size=1):
    """The first `len(split)` examples in order, at their own size: (images float32, masks int32)."""
    SHARDS_READ.update(split.files)
    ds = tf.data.TFRecordDataset(list(split.files)).take(len(split))
    ds = ds.map(lambda record: decode_record(record, num_classes), num_parallel_calls=AUTOTUNE, deterministic=True)
    ds = ds.map(lambda image, mask: (tf.cast(image, tf.float32), tf.cast(mask, tf.int32)))
    return without_autotune_model(ds.batch(batch_size).prefetch(AUTOTUNE))
