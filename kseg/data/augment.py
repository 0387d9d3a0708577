"""Training augmentation as DeepLab, PAN and RelationNet use it: random scale, pad, random
crop, horizontal flip. Pure TF, stateless (seeded per example). Images stay RGB 0-255:
models normalise inside."""

import tensorflow as tf

from kseg.data.labels import IGNORE_LABEL
from kseg.layers.preprocessing import IMAGENET_CAFFE_MEAN_RGB


def random_scale(image, mask, seed, scale_range):
    """Resize by a factor drawn uniformly from `scale_range`; image bilinear, mask nearest."""
    low, high = scale_range
    scale = tf.random.stateless_uniform([], seed, low, high)
    size = tf.cast(tf.round(tf.cast(tf.shape(image)[:2], tf.float32) * scale), tf.int32)
    size = tf.maximum(size, 1)
    image = tf.image.resize(tf.cast(image, tf.float32), size, method="bilinear")
    mask = tf.image.resize(mask[..., None], size, method="nearest")[..., 0]
    return image, mask


def pad_to(image, mask, height, width, fill=IMAGENET_CAFFE_MEAN_RGB):
    """Pad bottom/right to at least (height, width): image with the mean colour, mask with 255."""
    shape = tf.shape(image)
    pad_h = tf.maximum(height - shape[0], 0)
    pad_w = tf.maximum(width - shape[1], 0)
    image = tf.cast(image, tf.float32) - tf.constant(fill, tf.float32)
    image = tf.pad(image, [[0, pad_h], [0, pad_w], [0, 0]]) + tf.constant(fill, tf.float32)
    mask = tf.pad(tf.cast(mask, tf.int32) - IGNORE_LABEL, [[0, pad_h], [0, pad_w]]) + IGNORE_LABEL
    return image, tf.cast(mask, tf.uint8)


def random_crop(image, mask, seed, height, width):
    """The same random (height, width) window of image and mask (both at least that big)."""
    shape = tf.shape(image)
    top = tf.random.stateless_uniform([], seed, 0, shape[0] - height + 1, dtype=tf.int32)
    left = tf.random.stateless_uniform([], tf.random.experimental.stateless_fold_in(seed, 1), 0, shape[1] - width + 1, dtype=tf.int32)
    image = tf.slice(image, [top, left, 0], [height, width, 3])
    mask = tf.slice(mask, [top, left], [height, width])
    return image, mask


def random_flip(image, mask, seed):
    """Horizontal flip with probability 1/2."""
    flip = tf.random.stateless_uniform([], seed) < 0.5
    image = tf.cond(flip, lambda: tf.reverse(image, [1]), lambda: image)
    mask = tf.cond(flip, lambda: tf.reverse(mask, [1]), lambda: mask)
    return image, mask


def augment(image, mask, seed, crop_size, scale_range=None, flip=True):
    """Scale -> pad -> crop -> flip. Returns float32 image (h, w, 3) in 0-255 and uint8 mask (h, w).

    Args:
        image: (H, W, 3) uint8 or float.
        mask: (H, W) uint8.
        seed: (2,) int tensor for the stateless random ops.
        crop_size: (height, width).
        scale_range: (low, high) or None for no scaling.
        flip: bool.
    """
    seeds = tf.random.experimental.stateless_split(seed, 3)
    image = tf.cast(image, tf.float32)
    if scale_range is not None:
        image, mask = random_scale(image, mask, seeds[0], scale_range)
    height, width = crop_size
    image, mask = pad_to(image, mask, height, width)
    image, mask = random_crop(image, mask, seeds[1], height, width)
    if flip:
        image, mask = random_flip(image, mask, seeds[2])
    image.set_shape([height, width, 3])
    mask.set_shape([height, width])
    return image, mask
