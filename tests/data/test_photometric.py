"""Photometric augmentation (issue 32, item 4): each jitter within mmseg's ranges, the blur
against NumPy, seeded like the geometric augmentation and leaving it unchanged."""

import numpy as np
import pytest
import tensorflow as tf

from kseg.data.augment import augment
from kseg.data.photometric import BLUR_RADIUS, Photometric, gaussian_blur, photometric_distortion

NOTHING = dict(brightness_delta=0.0, contrast_range=(1.0, 1.0), saturation_range=(1.0, 1.0), hue_delta=0.0)


def _image(seed=0, size=(24, 32)):
    return tf.constant(np.random.default_rng(seed).uniform(40, 215, (*size, 3)), tf.float32)


def _distorted(settings, k, image=None):
    image = _image() if image is None else image
    return photometric_distortion(image, tf.constant([3, k], tf.int64), settings).numpy(), image.numpy()


def test_brightness_adds_and_contrast_multiplies_within_mmsegs_ranges():
    shifts, factors = [], []
    for k in range(40):
        out, image = _distorted(Photometric(**{**NOTHING, "brightness_delta": 32.0}), k)
        shift = out - image
        assert np.ptp(shift) < 1e-3 and abs(shift.mean()) <= 32  # one delta for the whole picture
        shifts.append(shift.mean())
        out, image = _distorted(Photometric(**{**NOTHING, "contrast_range": (0.5, 1.5)}), k)
        ratio = (out / image)[out < 254.9]  # one factor for the whole picture, up to the clipping at 255
        assert np.ptp(ratio) < 1e-5 and 0.5 <= ratio.mean() <= 1.5
        factors.append(ratio.mean())
    untouched = sum(abs(s) < 1e-6 for s in shifts)
    assert 8 <= untouched <= 32 and min(shifts) < -5 and max(shifts) > 5  # applied about half the time, both ways
    assert 8 <= sum(abs(f - 1) < 1e-6 for f in factors) <= 32


def test_saturation_and_hue_are_tensorflows_adjustments_and_values_stay_in_range():
    grey = tf.tile(_image()[..., :1], [1, 1, 3])
    for k in range(12):
        out, _ = _distorted(Photometric(**{**NOTHING, "saturation_range": (0.5, 1.5), "hue_delta": 0.1}), k, grey)
        np.testing.assert_allclose(out, grey.numpy(), atol=1e-3)  # a grey picture has no saturation nor hue
        out, _ = _distorted(Photometric(), k)
        assert out.min() >= 0 and out.max() <= 255
    out, image = _distorted(Photometric(**{**NOTHING, "saturation_range": (0.5, 1.5), "hue_delta": 0.1}), 1)
    assert np.abs(out - image).max() > 1  # colours do move


def test_gaussian_blur_equals_numpy():
    image = _image(1)
    for sigma in (0.1, 0.7, 2.0):
        offsets = np.arange(-BLUR_RADIUS, BLUR_RADIUS + 1)
        weights = np.exp(-0.5 * (offsets / sigma) ** 2)
        weights /= weights.sum()
        padded = np.pad(image.numpy(), [(BLUR_RADIUS, BLUR_RADIUS), (BLUR_RADIUS, BLUR_RADIUS), (0, 0)], mode="reflect")
        rows = sum(w * padded[i : i + image.shape[0]] for i, w in enumerate(weights))
        expected = sum(w * rows[:, i : i + image.shape[1]] for i, w in enumerate(weights))
        np.testing.assert_allclose(gaussian_blur(image, tf.constant(sigma)).numpy(), expected, atol=1e-3)


@pytest.mark.parametrize("scale_range", [(0.5, 2.0), None])
def test_seeded_and_the_geometry_unchanged(scale_range):
    image = _image(2, (60, 80))
    mask = tf.constant(np.random.default_rng(3).integers(0, 4, (60, 80)), tf.uint8)
    for k in range(6):
        seed = tf.constant([5, k], tf.int64)
        plain = augment(image, mask, seed, (48, 48), scale_range, flip=True)
        jittered = augment(image, mask, seed, (48, 48), scale_range, flip=True, photometric=Photometric(blur_probability=0.5))
        again = augment(image, mask, seed, (48, 48), scale_range, flip=True, photometric=Photometric(blur_probability=0.5))
        np.testing.assert_array_equal(jittered[1].numpy(), plain[1].numpy())  # same crop, flip and labels
        np.testing.assert_array_equal(jittered[0].numpy(), again[0].numpy())  # a function of the seed
    changed = [
        not np.array_equal(augment(image, mask, tf.constant([5, k], tf.int64), (48, 48), scale_range, photometric=Photometric())[0].numpy(),
                           augment(image, mask, tf.constant([5, k], tf.int64), (48, 48), scale_range)[0].numpy())
        for k in range(6)
    ]
    assert any(changed)
