"""A JPEG's size from kseg's own header walk (kseg/serving/jpeg.py), read before decoding: what
libjpeg reads, for every layout Pillow writes and for fill bytes before the frame header."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kseg.serving.jpeg import jpeg_shape
from tests.serving.conftest import encoded

PICTURE = Image.fromarray(np.random.RandomState(0).randint(0, 255, (20, 30, 3), np.uint8))


def _with_fill_bytes(jpeg):
    """0xFF fill bytes before the frame header, which T.81 B.1.1.2 allows before any marker."""
    at = jpeg.index(b"\xff\xc0")
    return jpeg[:at] + b"\xff\xff\xff" + jpeg[at:]


JPEGS = {
    "baseline": encoded(PICTURE, "JPEG"),
    "progressive": encoded(PICTURE, "JPEG", progressive=True),
    "cmyk": encoded(PICTURE.convert("CMYK"), "JPEG"),
    "grey": encoded(PICTURE.convert("L"), "JPEG"),
    "exif_icc_comment": encoded(PICTURE, "JPEG", exif=b"Exif\0\0" + b"\0" * 4000, icc_profile=b"\0" * 3000, comment=b"kseg"),
    "fill_bytes": _with_fill_bytes(encoded(PICTURE, "JPEG")),
    "tall": encoded(Image.new("RGB", (3, 4000)), "JPEG"),
}


@pytest.mark.parametrize("name", sorted(JPEGS))
def test_jpeg_header_walk_reads_the_size_libjpeg_reads(name):
    data = tf.constant(JPEGS[name])
    assert jpeg_shape(data, 0).numpy().tolist() == tf.image.extract_jpeg_shape(data)[:2].numpy().tolist()
