"""Training augmentation as DeepLab, PAN and RelationNet use it: random scale, pad, random
crop, horizontal flip, and optionally photometric jitter (`kseg.data.photometric`). Pure TF, stateless (seeded per example), computed crop-first. Images
stay RGB 0-255: models normalise inside."""

import tensorflow as tf

from kseg.data.labels import IGNORE_LABEL
from kseg.data.photometric import photometric_distortion
from kseg.layers.preprocessing import IMAGENET_CAFFE_MEAN_RGB


PHOTOMETRIC_STREAM = 1000  # folded into an example's seed for its photometric draws


def pad_to(image, mask, height, width, fill=IMAGENET_CAFFE_MEAN_RGB):
    """Pad bottom/right to at least (height, width): image (float32) with the mean colour,
    mask (uint8) with 255. The image goes through `(x - fill) + fill` even when nothing is
    padded: the float rounding of that round trip is part of every kseg training stream
    (skipping it changed the default run's result from 80.2% to 75.0% val mIoU)."""
    shape = tf.shape(image)
    pad_h = tf.maximum(height - shape[0], 0)
    pad_w = tf.maximum(width - shape[1], 0)
    fill_ = tf.constant(fill, tf.float32)
    image = tf.pad(tf.cast(image, tf.float32) - fill_, [[0, pad_h], [0, pad_w], [0, 0]]) + fill_
    mask = tf.pad(tf.cast(mask, tf.uint8), [[0, pad_h], [0, pad_w]], constant_values=IGNORE_LABEL)
    return image, mask


def random_flip(image, mask, seed):
    """Horizontal flip with probability 1/2."""
    flip = tf.random.stateless_uniform([], seed) < 0.5
    image = tf.cond(flip, lambda: tf.reverse(image, [1]), lambda: image)
    mask = tf.cond(flip, lambda: tf.reverse(mask, [1]), lambda: mask)
    return image, mask


def _scaled_size(shape, seed, scale_range):
    """(height, width) int32 the picture has after `random_scale` with this seed."""
    if scale_range is None:
        return shape
    low, high = scale_range
    scale = tf.random.stateless_uniform([], seed, low, high)
    return tf.maximum(tf.cast(tf.round(tf.cast(shape, tf.float32) * scale), tf.int32), 1)


def _crop_origin(padded, seed, height, width):
    """(top, left) of `random_crop`'s window in a picture of size `padded`."""
    top = tf.random.stateless_uniform([], seed, 0, padded[0] - height + 1, dtype=tf.int32)
    left = tf.random.stateless_uniform([], tf.random.experimental.stateless_fold_in(seed, 1), 0, padded[1] - width + 1, dtype=tf.int32)
    return top, left


def _bilinear_axis(start, count, source, target):
    """Source indices (low, high) and weights of output positions start..start+count-1 of a
    `source` -> `target` bilinear resize with half-pixel centres (TensorFlow's ResizeBilinear)."""
    scale = tf.cast(source, tf.float32) / tf.cast(target, tf.float32)
    position = (tf.cast(tf.range(start, start + count), tf.float32) + 0.5) * scale - 0.5
    floor = tf.floor(position)
    low = tf.maximum(tf.cast(floor, tf.int32), 0)
    high = tf.minimum(tf.cast(tf.math.ceil(position), tf.int32), source - 1)
    return low, high, position - floor


def _nearest_axis(start, count, source, target):
    """Source indices of a `source` -> `target` nearest-neighbour resize with half-pixel centres."""
    scale = tf.cast(source, tf.float32) / tf.cast(target, tf.float32)
    position = tf.floor((tf.cast(tf.range(start, start + count), tf.float32) + 0.5) * scale)
    return tf.minimum(tf.cast(position, tf.int32), source - 1)


def _window(read, mask, size, top, left, rows, cols):
    """Rows top..top+rows and columns left..left+cols of the image and `mask` resized to
    `size`: (float32 `(rows, cols, 3)`, mask `(rows, cols)`). Only the source region the
    window samples is read (`read(top, left, rows, cols)`) and interpolated, columns first
    (the same products as rows first)."""
    shape = tf.shape(mask)
    y0, y1, dy = _bilinear_axis(top, rows, shape[0], size[0])
    x0, x1, dx = _bilinear_axis(left, cols, shape[1], size[1])
    region = read(y0[0], x0[0], y1[-1] + 1 - y0[0], x1[-1] + 1 - x0[0])
    left_, right_ = (tf.cast(tf.gather(region, x - x0[0], axis=1), tf.float32) for x in (x0, x1))
    across = left_ + (right_ - left_) * dx[None, :, None]
    upper, lower = tf.gather(across, y0 - y0[0]), tf.gather(across, y1 - y0[0])
    window = upper + (lower - upper) * dy[:, None, None]
    labels = tf.gather(tf.gather(mask, _nearest_axis(top, rows, shape[0], size[0])), _nearest_axis(left, cols, shape[1], size[1]), axis=1)
    return window, labels


def augment(image, mask, seed, crop_size, scale_range=None, flip=True, photometric=None):
    """Scale -> crop -> photometric -> pad -> flip. Returns float32 image (h, w, 3) in 0-255
    and uint8 mask (h, w).

    The picture is scaled by a factor drawn uniformly from `scale_range` (image bilinear,
    mask nearest, TensorFlow's resize with half-pixel centres), padded bottom/right to the
    crop size (`pad_to`), cropped at a uniformly drawn window and flipped with probability
    1/2, each draw from its own split of `seed`. Only the crop window of the scaled picture
    is computed (mapped back to the source and sampled with the resize's own arithmetic):
    at Cityscapes' size (2048x1024, scale up to 2, crop 768) resizing the whole picture
    first costs 3x more for the same pixels (`tests/data/test_augment.py` checks the
    equality against `tf.image.resize` of the whole picture).

    Args:
        image: (H, W, 3) uint8 or float, or a function `(top, left, rows, cols) -> pixels`
            reading a region of it (`kseg.data.image_region.region_reader`: a JPEG
            decodes only the region the window samples).
        mask: (H, W) uint8.
        seed: (2,) int tensor for the stateless random ops.
        crop_size: (height, width).
        scale_range: (low, high) or None for no scaling.
        flip: bool.
        photometric: None, or a `kseg.data.photometric.Photometric`: jitter the crop's
            colours (before the padding, as mmseg's pipeline does) from a seed of its own,
            so the geometric draws stay those of `seed` without it.
    """
    seeds = tf.random.experimental.stateless_split(seed, 3)
    height, width = crop_size
    size = _scaled_size(tf.shape(mask), seeds[0], scale_range)
    top, left = _crop_origin(tf.maximum(size, [height, width]), seeds[1], height, width)
    rows, cols = tf.minimum(height, size[0] - top), tf.minimum(width, size[1] - left)
    read = image if callable(image) else lambda t, l, h, w: image[t : t + h, l : l + w]
    if scale_range is None:
        window, labels = tf.cast(read(top, left, rows, cols), tf.float32), mask[top : top + rows, left : left + cols]
    else:
        window, labels = _window(read, mask, size, top, left, rows, cols)
    if photometric is not None:
        window = photometric_distortion(window, tf.random.experimental.stateless_fold_in(seed, PHOTOMETRIC_STREAM), photometric)
    window, labels = pad_to(window, labels, height, width)
    if flip:
        window, labels = random_flip(window, labels, seeds[2])
    window.set_shape([height, width, 3])
    labels.set_shape([height, width])
    return window, labels
