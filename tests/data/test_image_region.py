"""`kseg.data.image_region`: a training crop's region of a JPEG, decoded alone, has the
pixels of the whole decode (the serving graph's), for every chroma subsampling."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kseg.data.augment import augment
from kseg.data.image_region import region_reader
from kseg.serving.decoding import decode_pixels


def _picture(height, width, seed=0):
    rng = np.random.default_rng(seed)
    smooth = np.kron(rng.integers(0, 255, (height // 8 + 1, width // 8 + 1, 3)), np.ones((8, 8, 1)))[:height, :width]
    return np.clip(smooth + rng.normal(0, 20, smooth.shape), 0, 255).astype(np.uint8)  # edges and noise: chroma detail


def _encoded(picture, **options):
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, **options)
    return buffer.getvalue()


def _orientation(value):
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


ENCODINGS = {
    "jpeg_444": {"format": "JPEG", "quality": 90, "subsampling": 0},
    "jpeg_422": {"format": "JPEG", "quality": 90, "subsampling": 1},
    "jpeg_420": {"format": "JPEG", "quality": 75, "subsampling": 2},
    "jpeg_420_progressive": {"format": "JPEG", "quality": 90, "progressive": True},
    "png": {"format": "PNG"},
    "jpeg_turned_by_exif": {"format": "JPEG", "quality": 90, "exif": _orientation(6)},  # decoded whole, then turned
}


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_a_region_decoded_alone_equals_the_whole_decode(encoding):
    height, width = 203, 317  # no multiple of an MCU
    data = _encoded(_picture(height, width), **ENCODINGS[encoding])
    whole = decode_pixels(data).numpy()
    height, width = whole.shape[:2]  # as displayed
    read = tf.function(region_reader(tf.constant(data), (height, width)))
    rng = np.random.default_rng(1)
    for _ in range(40):
        top, left = int(rng.integers(0, height)), int(rng.integers(0, width))
        rows, cols = int(rng.integers(1, height - top + 1)), int(rng.integers(1, width - left + 1))
        region = read(*(tf.constant(n) for n in (top, left, rows, cols))).numpy()  # tensors, as tf.data gives: one trace
        np.testing.assert_array_equal(region, whole[top : top + rows, left : left + cols])


def test_augmenting_from_regions_equals_augmenting_the_decoded_picture():
    height, width = 150, 260
    data = _encoded(_picture(height, width, seed=3), format="JPEG", quality=85)
    mask = tf.constant(np.random.default_rng(2).integers(0, 5, (height, width)), tf.uint8)
    whole, read = decode_pixels(data), region_reader(tf.constant(data), (height, width))
    for k in range(12):
        for scale_range in ((0.5, 2.0), None):
            seed = tf.constant([4, k], tf.int64)
            expected = augment(whole, mask, seed, (96, 128), scale_range, flip=True)
            found = augment(read, mask, seed, (96, 128), scale_range, flip=True)
            np.testing.assert_array_equal(found[0].numpy(), expected[0].numpy())
            np.testing.assert_array_equal(found[1].numpy(), expected[1].numpy())
