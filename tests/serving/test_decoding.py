"""The serving graph's decoder against Pillow on valid variants of every format it takes:
each image Pillow opens is decoded to Pillow's pixels (JPEG too: the same IDCT, so the file
pipeline, which decodes with Pillow, the records and the serving graph agree) or refused with a message naming the image and the reason (issue 33, item 2)."""

import io
import struct

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kseg.serving import graph
from tests.serving.conftest import encoded

checked_decode = tf.function(graph.checked_decode)  # as in the exported graph

RGB = Image.fromarray(np.random.RandomState(0).randint(0, 255, (20, 30, 3), np.uint8))


def _top_down(bmp):
    """A 24-bit bottom-up BMP rewritten top-down: rows reversed, the height negated."""
    data = bytearray(bmp)
    width, height = struct.unpack("<ii", data[18:26])
    offset, stride = struct.unpack("<I", data[10:14])[0], (width * 3 + 3) // 4 * 4
    rows = [data[offset + i * stride : offset + (i + 1) * stride] for i in range(height)]
    data[offset:] = b"".join(rows[::-1])
    data[22:26] = struct.pack("<i", -height)
    return bytes(data)


def _animated_gif():
    frames = [RGB.convert("P"), RGB.transpose(Image.FLIP_LEFT_RIGHT).convert("P")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    return out.getvalue()


DECODED_LIKE_PILLOW = {  # name -> (bytes, largest |difference| allowed)
    "png_rgb": (encoded(RGB, "PNG"), 0),
    "png_grey": (encoded(RGB.convert("L"), "PNG"), 0),
    "png_grey_alpha": (encoded(RGB.convert("LA"), "PNG"), 0),
    "png_rgba": (encoded(RGB.convert("RGBA"), "PNG"), 0),
    "png_palette": (encoded(RGB.convert("P"), "PNG"), 0),
    "jpeg_baseline": (encoded(RGB, "JPEG"), 0),  # the same IDCT as Pillow (decoding.JPEG_DCT_METHOD)
    "jpeg_progressive": (encoded(RGB, "JPEG", progressive=True), 0),
    "jpeg_cmyk": (encoded(RGB.convert("CMYK"), "JPEG"), 0),
    "gif_animated": (_animated_gif(), 0),  # the first frame
    "bmp_grey": (encoded(RGB.convert("L"), "BMP"), 0),
    "bmp_24": (encoded(RGB, "BMP"), 0),
    "bmp_32": (encoded(RGB.convert("RGBA"), "BMP"), 0),
    "bmp_top_down": (_top_down(encoded(RGB, "BMP")), 0),
}
REFUSED = {  # name -> (bytes, what the message says): TensorFlow's decoder would fail or misread them
    "bmp_1bit": (encoded(RGB.convert("1"), "BMP"), "a 1-bit BMP"),
    "bmp_palette": (encoded(RGB.convert("P"), "BMP"), "a 8-bit BMP"),  # would come back as palette indices
}


@pytest.mark.parametrize("name", sorted(DECODED_LIKE_PILLOW))
def test_valid_images_decode_like_pillow(name):
    data, tolerance = DECODED_LIKE_PILLOW[name]
    want = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float32)
    got = checked_decode(tf.constant(data), 0).numpy()
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= tolerance


def test_sixteen_bit_png_is_scaled_to_eight_bits():
    grey = np.random.RandomState(1).randint(0, 65536, (20, 30)).astype(np.uint16)
    got = checked_decode(tf.constant(encoded(Image.fromarray(grey), "PNG")), 0).numpy()
    np.testing.assert_allclose(got[..., 0], np.round(grey / 257.0), atol=1)  # Pillow's own "RGB" clips instead


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_bmp_layouts_the_decoder_misreads_are_refused_by_name(name):
    data, says = REFUSED[name]
    Image.open(io.BytesIO(data)).load()  # valid: Pillow reads it
    with pytest.raises(tf.errors.InvalidArgumentError, match=rf"images\[3\]: {says} .*send 24/32-bit or 8-bit grey BMPs"):
        checked_decode(tf.constant(data), 3)
