"""GIFs in the serving graph (kseg/serving/gif.py): the first frame alone, placed on its screen
as Pillow places it, and a frame that claims more than its screen refused before decoding."""

import io
import struct

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kseg.serving import graph
from tests.serving.conftest import encoded

checked_decode = tf.function(graph.checked_decode)  # as in the exported graph


def _gif_with_screen(frame_side, screen, offset):
    """A one-frame GIF whose header is rewritten: a `screen` (w, h) and the frame at `offset`."""
    data = bytearray(encoded(Image.fromarray(np.full((frame_side, frame_side, 3), 200, np.uint8)).convert("P"), "GIF"))
    data[6:10] = struct.pack("<HH", *screen)
    at = data.index(b"\x2c", 13)
    data[at + 1 : at + 5] = struct.pack("<HH", *offset)
    return bytes(data)


def test_a_gif_frame_at_an_offset_comes_back_on_its_screen_like_pillow():
    data = _gif_with_screen(8, (16, 12), (4, 3))
    want = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float32)
    got = checked_decode(tf.constant(data), 0).numpy()
    assert got.shape == want.shape == (12, 16, 3)
    np.testing.assert_array_equal(got[3:11, 4:12], want[3:11, 4:12])  # the frame where Pillow puts it
    assert (got[:3] == got[0, 0]).all() and (got[11:] == got[0, 0]).all()  # the rest: the background colour


def test_a_gif_frame_larger_than_its_screen_is_refused_before_decoding():
    big = _gif_with_screen(8, (16, 16), (0, 0))
    at = big.index(b"\x2c", 13)
    claims = big[: at + 5] + struct.pack("<HH", 60000, 60000) + big[at + 9 :]  # what TF would allocate: 3.6 Gpx
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"images\[2\]: a GIF whose first frame \(60000x60000 at 0,0\) is not inside its 16x16 screen"):
        checked_decode(tf.constant(claims), 2)
    outside = _gif_with_screen(8, (16, 16), (12, 0))
    with pytest.raises(tf.errors.InvalidArgumentError, match="is not inside its 16x16 screen"):
        checked_decode(tf.constant(outside), 0)


def _as_later_frame(gif):
    """The image of a one-frame GIF as a frame to append to another: its descriptor, with
    the file's global colour table carried along as the frame's local one, and its data."""
    flags = gif[10]
    table = 3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0
    at = 13 + table
    assert gif[at] == 0x2C  # Pillow writes no extension before a still image's descriptor
    descriptor = gif[at : at + 9] + bytes([0x80 | (flags & 7)])
    return descriptor + gif[13 : 13 + table] + gif[at + 10 : -1]


def test_only_the_first_gif_frame_is_decoded_at_its_screens_size():
    first = Image.fromarray(np.full((20, 30, 3), 120, np.uint8)).convert("P")
    large = Image.fromarray(np.full((3000, 3000, 3), 60, np.uint8)).convert("P")  # 0.3 MB compressed
    data = encoded(first, "GIF")[:-1] + _as_later_frame(encoded(large, "GIF")) + b"\x3b"
    assert len(data) < 400_000 and Image.open(io.BytesIO(data)).n_frames == 2
    want = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float32)
    got = checked_decode(tf.constant(data), 0).numpy()  # TensorFlow alone: 3000x3000, every frame decoded
    assert got.shape == want.shape == (20, 30, 3)
    np.testing.assert_array_equal(got, want)
