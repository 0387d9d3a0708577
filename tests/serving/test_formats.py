"""The serving graph tells image formats apart by their first bytes (kseg/serving/formats.py)."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kseg.serving.formats import byte_at, format_name, format_signatures


@pytest.mark.parametrize("fmt, name", [("JPEG", "JPEG"), ("PNG", "PNG"), ("GIF", "GIF"), ("BMP", "BMP"), ("WEBP", "image")])
def test_each_format_is_known_by_its_signature(fmt, name):
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(buffer, fmt)
    data = tf.constant(buffer.getvalue())
    assert format_name(data).numpy().decode() == name
    assert list(format_signatures(data).numpy()) == [name == known for known in ("JPEG", "PNG", "GIF", "BMP")]


def test_header_reads_past_either_end_are_zero():
    raw = tf.constant([7, 8, 9], tf.uint8)
    assert [int(byte_at(raw, at)) for at in (-1, 0, 2, 3, 100)] == [0, 7, 9, 0, 0]
