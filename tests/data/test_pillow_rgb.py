"""Pillow's pixels as TensorFlow's decoders give them (kseg/data/pillow_rgb.py): the file
pipeline, which decodes with Pillow, sees a 16-bit picture as the records and the serving
graph do, not clipped to white."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kseg.data.decode import read_pair
from kseg.data.pillow_rgb import rgb_pixels
from kseg.serving.decoding import decode_pixels

PICTURE = np.random.default_rng(0).integers(0, 256, (12, 17, 3), np.uint8)


def _png(array, mode=None):
    out = io.BytesIO()
    Image.fromarray(array, mode).save(out, "PNG")
    return out.getvalue()


CASES = {
    "grey_16_bit": _png(np.random.default_rng(1).integers(0, 65536, (12, 17)).astype(np.uint16)),
    "rgb": _png(PICTURE),
    "grey": _png(PICTURE[..., 0]),
    "palette": _png(np.asarray(Image.fromarray(PICTURE).convert("P"))),  # Pillow's quantised palette image
    "rgba": _png(np.dstack([PICTURE, PICTURE[..., :1]])),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_pillow_gives_the_pixels_tensorflow_decodes(name):
    with Image.open(io.BytesIO(CASES[name])) as opened:
        got = rgb_pixels(opened)
    np.testing.assert_array_equal(got, decode_pixels(tf.constant(CASES[name])).numpy())


def test_the_file_pipeline_reads_a_16_bit_image_as_serving_does(tmp_path):
    grey = np.linspace(0, 65535, 12 * 17).reshape(12, 17).astype(np.uint16)
    (tmp_path / "deep.png").write_bytes(_png(grey))
    Image.fromarray(np.zeros((12, 17), np.uint8)).save(tmp_path / "mask.png")
    image, _ = read_pair(str(tmp_path / "deep.png"), str(tmp_path / "mask.png"), 2)
    np.testing.assert_array_equal(image, decode_pixels(tf.constant(_png(grey))).numpy())
    assert image.min() == 0 and image.max() == 255 and len(np.unique(image)) > 100  # not clipped to white
