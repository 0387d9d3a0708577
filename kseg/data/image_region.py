"""Decoding only the part of an image a training crop samples, pixel-identical to decoding
the whole image (`kseg.serving.decoding.decode_pixels`, the serving graph's decoder).

At Cityscapes' size (2048x1024) a crop of 768 at scale 1 samples a quarter of the picture;
libjpeg can skip the rest (`tf.image.decode_and_crop_jpeg`). Its chroma upsampling at a
crop's edge sees no neighbours, so the decoded window is widened by `JPEG_MARGIN` pixels
(one 4:1:1 MCU; chroma is subsampled at most 4x) and aligned to a multiple of it, then cut:
the kept pixels equal the whole decode's (`tests/data/test_image_region.py`, 4:4:4, 4:2:2
and 4:2:0). Other formats, and JPEGs whose EXIF orientation turns them, are decoded whole.
"""

import tensorflow as tf

from kseg.serving.decoding import JPEG_DCT_METHOD, decode_pixels
from kseg.serving.exif import exif_orientation

JPEG_MARGIN = 32  # pixels decoded around the region: a multiple of any JPEG MCU's size


def _widened(start, count, extent):
    """(first, stop) of the decoded span around [start, start + count) in [0, extent)."""
    first = tf.maximum(start // JPEG_MARGIN * JPEG_MARGIN - JPEG_MARGIN, 0)
    return first, tf.minimum(start + count + JPEG_MARGIN, extent)


def region_reader(data, size, orientation=None):
    """A function `(top, left, rows, cols) -> uint8 (rows, cols, 3)`: those rows and columns
    of the image in the encoded bytes `data` (JPEG or PNG), whose (height, width) is `size`;
    `orientation`: the EXIF orientation of `data` if the caller has read it, else None."""
    size = tf.cast(size, tf.int32)
    if orientation is None:
        orientation = exif_orientation(data)
    as_stored = tf.logical_and(tf.io.is_jpeg(data), tf.equal(orientation, 1))  # else decoded whole and turned

    def read(top, left, rows, cols):
        def jpeg():
            y0, y1 = _widened(top, rows, size[0])
            x0, x1 = _widened(left, cols, size[1])
            window = tf.stack([y0, x0, y1 - y0, x1 - x0])
            decoded = tf.image.decode_and_crop_jpeg(data, window, channels=3, dct_method=JPEG_DCT_METHOD)
            return decoded[top - y0 : top - y0 + rows, left - x0 : left - x0 + cols]

        def whole():
            return decode_pixels(data)[top : top + rows, left : left + cols]

        return tf.cond(as_stored, jpeg, whole)

    return read
