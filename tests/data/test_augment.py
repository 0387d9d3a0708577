"""The augmentation computed crop-first equals scale -> pad -> crop -> flip done on the whole
picture with `tf.image.resize`, pixel for pixel, over sizes smaller and larger than the crop."""

import numpy as np
import pytest
import tensorflow as tf

from kseg.data.augment import augment, pad_to


def whole_picture_augment(image, mask, seed, crop_size, scale_range, flip):
    """The definition: resize all of it (same draws as `augment`), pad, crop, flip."""
    seeds = tf.random.experimental.stateless_split(seed, 3)
    image = tf.cast(image, tf.float32)
    if scale_range is not None:
        scale = tf.random.stateless_uniform([], seeds[0], *scale_range)
        size = tf.maximum(tf.cast(tf.round(tf.cast(tf.shape(image)[:2], tf.float32) * scale), tf.int32), 1)
        image = tf.image.resize(image, size, method="bilinear")
        mask = tf.image.resize(mask[..., None], size, method="nearest")[..., 0]
    height, width = crop_size
    image, mask = pad_to(image, mask, height, width)
    shape = tf.shape(image)
    top = tf.random.stateless_uniform([], seeds[1], 0, shape[0] - height + 1, dtype=tf.int32)
    left = tf.random.stateless_uniform([], tf.random.experimental.stateless_fold_in(seeds[1], 1), 0, shape[1] - width + 1, dtype=tf.int32)
    image, mask = image[top : top + height, left : left + width], mask[top : top + height, left : left + width]
    if flip and tf.random.stateless_uniform([], seeds[2]) < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]
    return image, mask


@pytest.mark.parametrize("crop, scale_range", [((64, 96), (0.5, 2.0)), ((128, 128), None), ((48, 48), (0.75, 1.25))])
def test_crop_first_equals_the_whole_picture_pipeline(crop, scale_range):
    rng = np.random.RandomState(0)
    for case in range(15):
        height, width = rng.randint(20, 300, size=2)
        image = tf.constant(rng.randint(0, 255, (height, width, 3)).astype("uint8"))
        mask = tf.constant(rng.randint(0, 5, (height, width)).astype("uint8"))
        seed = tf.constant([case, 3], tf.int64)
        got_image, got_mask = augment(image, mask, seed, crop, scale_range, True)
        want_image, want_mask = whole_picture_augment(image, mask, seed, crop, scale_range, True)
        np.testing.assert_array_equal(got_image.numpy(), want_image.numpy())
        np.testing.assert_array_equal(got_mask.numpy(), want_mask.numpy())
