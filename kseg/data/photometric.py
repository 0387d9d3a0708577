"""Photometric augmentation: brightness, contrast, saturation and hue jitter in a random
order, and an optional Gaussian blur. Pure TF, stateless (seeded per example), on RGB 0-255.

Ranges are mmsegmentation's `PhotoMetricDistortion` defaults: brightness +-32, contrast and
saturation x[0.5, 1.5], hue +-18 of OpenCV's 180 hue steps (+-0.1 of the circle), each op
applied with probability 1/2; mmseg fixes the order up to where contrast goes, here the four
come in a random order (torchvision's `ColorJitter`). The blur, when asked for, is a
Gaussian of sigma uniform in [0.1, 2.0] (SimCLR's), applied with the given probability.
"""

import dataclasses

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Photometric:
    """The distortion's ranges (mmseg's defaults) and the blur's probability (off by default)."""

    brightness_delta: float = 32.0
    contrast_range: tuple = (0.5, 1.5)
    saturation_range: tuple = (0.5, 1.5)
    hue_delta: float = 18.0 / 180.0
    blur_probability: float = 0.0
    blur_sigma_range: tuple = (0.1, 2.0)


BLUR_RADIUS = 6  # pixels each side: 3 sigma at the largest sigma, 2.0


def _uniform(seed, low, high):
    return tf.random.stateless_uniform([], seed, low, high)


def _ops(settings):
    """The four jitter ops: (image float32 0-255, seed) -> image."""
    def brightness(image, seed):
        return image + _uniform(seed, -settings.brightness_delta, settings.brightness_delta)

    def contrast(image, seed):
        return image * _uniform(seed, *settings.contrast_range)

    def saturation(image, seed):
        return tf.image.adjust_saturation(image / 255.0, _uniform(seed, *settings.saturation_range)) * 255.0

    def hue(image, seed):
        return tf.image.adjust_hue(image / 255.0, _uniform(seed, -settings.hue_delta, settings.hue_delta)) * 255.0

    return [brightness, contrast, saturation, hue]


def gaussian_blur(image, sigma):
    """`image` (H, W, 3) float32 blurred by a Gaussian of `sigma` (pixels, <= BLUR_RADIUS / 3),
    separable, the border reflected."""
    offsets = tf.range(-BLUR_RADIUS, BLUR_RADIUS + 1, dtype=tf.float32)
    weights = tf.exp(-0.5 * tf.square(offsets / sigma))
    weights /= tf.reduce_sum(weights)
    padded = tf.pad(image[None], [[0, 0], [BLUR_RADIUS, BLUR_RADIUS], [BLUR_RADIUS, BLUR_RADIUS], [0, 0]], mode="REFLECT")
    rows = tf.tile(weights[:, None, None, None], [1, 1, 3, 1])
    columns = tf.tile(weights[None, :, None, None], [1, 1, 3, 1])
    blurred = tf.nn.depthwise_conv2d(padded, rows, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(blurred, columns, [1, 1, 1, 1], "VALID")[0]


def photometric_distortion(image, seed, settings=Photometric()):
    """`image` (H, W, 3) float32 RGB 0-255 jittered as `settings` says, clipped to 0-255.

    Each op draws from its own split of `seed` ((2,) int): whether it applies, its factor,
    and the order of the four (a stateless permutation), so a stream position always gets
    the same distortion."""
    seeds = tf.random.experimental.stateless_split(seed, 11)
    order = tf.argsort(tf.random.stateless_uniform([4], seeds[0]))
    ops = _ops(settings)
    for position in range(4):
        index = order[position]
        apply = tf.random.stateless_uniform([], seeds[1 + position]) < 0.5
        branches = [lambda op=op, k=k: op(image, seeds[5 + k]) for k, op in enumerate(ops)]
        image = tf.cond(apply, lambda: tf.switch_case(index, branches), lambda: image)
        image = tf.clip_by_value(image, 0.0, 255.0)
    if settings.blur_probability > 0:
        blur = tf.random.stateless_uniform([], seeds[9]) < settings.blur_probability
        sigma = _uniform(seeds[10], *settings.blur_sigma_range)
        image = tf.cond(blur, lambda: gaussian_blur(image, sigma), lambda: image)
    return image
