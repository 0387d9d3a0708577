"""The EXIF orientation of a JPEG or PNG, read and applied in the graph.

A camera stores the pixels as its sensor read them and records in the EXIF Orientation tag
(0x0112; EXIF 2.32 §4.6.5, values 1-8) how to turn them for display. TensorFlow's decoders
ignore it. Viewers, browsers, OpenCV's `imread` (so mmsegmentation), detectron2's
`read_image`, Pillow's `ImageOps.exif_transpose` and the labelling tools built on them show
the turned picture, and masks are drawn on that; so kseg decodes every image turned: both
training pipelines, evaluation, prediction and the exported serving graph
(`kseg.serving.decoding.decode_pixels`).

The tag is an entry of IFD0 of a TIFF structure (TIFF 6.0 §2: a byte-order mark "II" or
"MM", 42, the offset of IFD0, whose 12-byte entries are tag, type, count, value) that a
JPEG carries in its first APP1 segment after "Exif\\0\\0" (EXIF 2.32 §4.7.2) and a PNG in
an eXIf chunk before its image data (PNG 3rd edition §11.3.3.6), as Pillow reads them. The
reads stay in range whatever the bytes claim; a missing, malformed or out-of-range tag
reads 1 (pixels as stored).
"""

import tensorflow as tf

from kseg.serving.formats import byte_at
from kseg.serving.jpeg import find_marker

ORIENTATION_TAG = 0x0112
SHORT = 3  # the tag's TIFF type
HEAD_BYTES = 1 << 18  # the tag is looked for in the first 256 KiB (JPEG APPn segments are <= 64 KiB each)
MAX_ENTRIES = 256  # IFD0 entries read (cameras write a few dozen)
APP1, START_OF_SCAN = 0xE1, 0xDA
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Said after an image's size when its mask's differs and its orientation turned it.
TURNED_HINT = " as its EXIF orientation turns it (masks are read as drawn on the picture viewers show)"


def _uint(raw, at, count, big_endian):
    """int64 unsigned integers of `count` bytes at positions `at` (scalar or vector), 0 past the ends."""
    parts = [byte_at(raw, at + k) for k in range(count)]
    big = sum(part * 256 ** (count - 1 - k) for k, part in enumerate(parts))
    little = sum(part * 256**k for k, part in enumerate(parts))
    return tf.where(big_endian, big, little)


def _bytes_equal(raw, at, expected):
    return tf.reduce_all(tf.stack([tf.equal(byte_at(raw, at + k), value) for k, value in enumerate(expected)]))


def _jpeg_tiff(raw):
    """Position of the TIFF header in a JPEG's first Exif APP1 segment before its scan, or -1."""

    def exif_or_scan(p):
        code = byte_at(raw, p + 1)
        return tf.logical_or(tf.logical_and(tf.equal(code, APP1), _bytes_equal(raw, p + 4, b"Exif\0\0")), tf.equal(code, START_OF_SCAN))

    at = find_marker(raw, exif_or_scan)
    return tf.where(tf.logical_and(at >= 0, tf.equal(byte_at(raw, at + 1), APP1)), at + 10, -1)


def _png_tiff(raw):
    """Position of the TIFF structure in a PNG's eXIf chunk before its first IDAT, or -1.
    Chunks: a 4-byte big-endian data length, a 4-byte type, the data, a 4-byte CRC."""
    end = tf.size(raw, out_type=tf.int64)

    def searching(p):
        return tf.logical_and(p + 8 <= end, tf.logical_not(_bytes_equal(raw, p + 4, b"eXIf") | _bytes_equal(raw, p + 4, b"IDAT")))

    def next_chunk(p):
        return (p + 12 + _uint(raw, p, 4, True),)

    p = tf.while_loop(searching, next_chunk, (tf.constant(len(PNG_SIGNATURE), tf.int64),))[0]
    return tf.where(tf.logical_and(p + 8 <= end, _bytes_equal(raw, p + 4, b"eXIf")), p + 8, -1)


def _orientation_in_tiff(raw, tiff):
    """The Orientation value of IFD0 of the TIFF structure at `tiff` (-1: none), else 1."""
    big = _bytes_equal(raw, tiff, b"MM")
    byte_order = tf.logical_or(big, _bytes_equal(raw, tiff, b"II"))
    header = tf.logical_and(tf.logical_and(tiff >= 0, byte_order), tf.equal(_uint(raw, tiff + 2, 2, big), 42))
    ifd = tiff + _uint(raw, tiff + 4, 4, big)
    count = tf.minimum(_uint(raw, ifd, 2, big), MAX_ENTRIES)
    entries = ifd + 2 + 12 * tf.range(MAX_ENTRIES, dtype=tf.int64)
    match = (
        (tf.range(MAX_ENTRIES, dtype=tf.int64) < count)
        & tf.equal(_uint(raw, entries, 2, big), ORIENTATION_TAG)
        & tf.equal(_uint(raw, entries + 2, 2, big), SHORT)
    )
    value = tf.gather(_uint(raw, entries + 8, 2, big), tf.argmax(tf.cast(match, tf.int32)))  # a SHORT fills the value's first 2 bytes
    readable = tf.logical_and(tf.logical_and(header, tf.reduce_any(match)), tf.logical_and(value >= 1, value <= 8))
    return tf.where(readable, value, 1)


def exif_orientation(data):
    """int64 scalar 1-8: the EXIF orientation of JPEG or PNG bytes `data`, 1 for any other
    bytes and for images without a readable tag."""
    head = tf.strings.join([tf.strings.substr(data, 0, HEAD_BYTES), b"\0"])  # never empty: reads past the end are 0
    raw = tf.cast(tf.io.decode_raw(head, tf.uint8), tf.int64)
    is_png = tf.equal(tf.strings.substr(data, 0, len(PNG_SIGNATURE)), PNG_SIGNATURE)
    tiff = tf.case(
        [(tf.io.is_jpeg(data), lambda: _jpeg_tiff(raw)), (is_png, lambda: _png_tiff(raw))],
        default=lambda: tf.constant(-1, tf.int64),
    )
    return _orientation_in_tiff(raw, tiff)


def turned(pixels, orientation):
    """`pixels` `(H, W, C)` as displayed under EXIF `orientation` (1-8): 2 mirrors left-right,
    3 turns 180 degrees, 4 mirrors top-bottom, 5 transposes, 6 turns 90 degrees clockwise,
    7 transposes across the other diagonal, 8 turns 90 degrees counter-clockwise; 5-8 give
    `(W, H, C)`."""
    def flipped():
        return tf.transpose(pixels, [1, 0, 2])

    branches = [
        lambda: pixels,
        lambda: tf.reverse(pixels, [1]),
        lambda: tf.reverse(pixels, [0, 1]),
        lambda: tf.reverse(pixels, [0]),
        flipped,
        lambda: tf.reverse(flipped(), [1]),
        lambda: tf.reverse(flipped(), [0, 1]),
        lambda: tf.reverse(flipped(), [0]),
    ]
    return tf.switch_case(tf.cast(orientation, tf.int32) - 1, branches)


def turned_shape(height_width, orientation):
    """The displayed `(height, width)` of a stored `(height, width)` under EXIF `orientation`."""
    return tf.where(orientation >= 5, tf.reverse(height_width, [0]), height_width)


# Pillow's `Image.transpose` method for each orientation (as `ImageOps.exif_transpose`).
PILLOW_TRANSPOSES = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270",
                     7: "TRANSVERSE", 8: "ROTATE_90"}


def pillow_displayed(image):
    """A Pillow image opened from a file, turned as `exif_orientation` and `turned` turn its
    bytes: by the Orientation tag of a JPEG's Exif APP1 or a PNG's eXIf chunk read before
    its image data (`image.info["exif"]`), and not, as `ImageOps.exif_transpose` also does,
    by XMP or PNG text chunks, which the graph does not read."""
    from PIL import Image

    if image.format not in ("JPEG", "PNG") or "exif" not in image.info:
        return image
    exif = Image.Exif()
    try:
        exif.load(image.info["exif"])
        orientation = exif.get(ORIENTATION_TAG)
    except (OSError, ValueError, SyntaxError, KeyError, TypeError):  # a malformed block reads as no tag, as in the graph
        return image
    method = PILLOW_TRANSPOSES.get(orientation) if isinstance(orientation, int) else None
    return image.transpose(getattr(Image.Transpose, method)) if method else image
