"""tf.data pipelines: file pairs -> decoded, checked, augmented, batched examples."""

import tensorflow as tf

from kseg.data.augment import augment
from kseg.data.decode import read_pair_op

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
    repeat=False,
):
    """Build the input pipeline for a list of (image_path, mask_path) pairs.

    Training: shuffle (reshuffled every epoch), parallel decode, augmentation (scale ->
    pad -> crop -> flip) seeded per example, batches of `batch_size` (last partial batch
    dropped), prefetch. Evaluation (`training=False`): in order, no augmentation, images
    at their own size, so `batch_size` should be 1 unless all images share a size.

    With `seed` the whole pipeline is deterministic (same order, same crops).

    Yields:
        (images float32 (B, H, W, 3) in [0, 255], masks int32 (B, H, W) with values in
        [0, num_classes) or 255).
    """
    if training and crop_size is None:
        raise ValueError("crop_size is required for training (batches need a common size)")
    image_paths = [p[0] for p in pairs]
    mask_paths = [p[1] for p in pairs]
    ds = tf.data.Dataset.from_tensor_slices((image_paths, mask_paths))
    if training:
        ds = ds.shuffle(len(pairs), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    deterministic = seed is not None or not training
    ds = ds.map(
        lambda i, m: read_pair_op(i, m, num_classes, label_table, skip_bad_examples),
        num_parallel_calls=AUTOTUNE,
        deterministic=deterministic,
    )
    ds = ds.filter(lambda image, mask, ok: ok)
    if training:
        seeds = tf.data.Dataset.random(seed=seed).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda example, s: augment(example[0], example[1], s, crop_size, scale_range, flip),
            num_parallel_calls=AUTOTUNE,
            deterministic=deterministic,
        )
    else:
        ds = ds.map(lambda image, mask, ok: (tf.cast(image, tf.float32), mask), num_parallel_calls=AUTOTUNE)
    ds = ds.map(lambda image, mask: (image, tf.cast(mask, tf.int32)))
    ds = ds.batch(batch_size, drop_remainder=training)
    return ds.prefetch(AUTOTUNE)
