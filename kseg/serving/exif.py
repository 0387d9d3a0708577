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

from kseg.serving.jpeg import STANDALONE

ORIENTATION_TAG = 0x0112
SHORT, LONG = 3, 4  # the tag's TIFF type: SHORT as the standard has it, LONG as some writers put it (Pillow reads both)
HEAD_BYTES = 1 << 18  # the tag is looked for in the first 256 KiB (JPEG APPn segments are <= 64 KiB each)
MAX_ENTRIES = 256  # IFD0 entries read (cameras write a few dozen)
APP1, START_OF_SCAN = 0xE1, 0xDA
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Said after an image's size when its mask's differs and its orientation turned it.
TURNED_HINT = " as its EXIF orientation turns it (masks are read as drawn on the picture viewers show)"


def _window(raw, at, count):
    """int64 `at.shape + (count,)`: the `count` bytes from each position of `at` in uint8 `raw`,
    which ends with a 0 byte that every position outside it reads: one gather, whatever the
    bytes claim."""
    last = tf.size(raw, out_type=tf.int64) - 1
    positions = tf.expand_dims(at, -1) + tf.range(count, dtype=tf.int64)
    return tf.cast(tf.gather(raw, tf.where((positions < 0) | (positions > last), last, positions)), tf.int64)


def _uint(window, big_endian):
    """int64 unsigned integers of the bytes along the last axis of `window`."""
    count = window.shape[-1]
    big = tf.reduce_sum(window * tf.constant([256 ** (count - 1 - k) for k in range(count)], tf.int64), -1)
    little = tf.reduce_sum(window * tf.constant([256**k for k in range(count)], tf.int64), -1)
    return tf.where(big_endian, big, little)


def _equal(window, expected):
    return tf.reduce_all(tf.equal(window, tf.constant(list(expected), tf.int64)), -1)


def _tiff_start(raw, is_jpeg, is_png):
    """Position of the TIFF structure in a JPEG's first Exif APP1 segment before its scan, or
    in a PNG's eXIf chunk before its first IDAT; -1 if there is none. One walk for both: JPEG
    marker segments (0xFF, a code, a big-endian length counting itself; ITU-T T.81 Annex B)
    or PNG chunks (a big-endian data length, a 4-byte type, the data, a CRC), each read as
    the 10 bytes from its start."""
    end = tf.size(raw, out_type=tf.int64) - 1  # the appended 0 is not the file's
    either = is_jpeg | is_png

    def holds_exif(header):
        jpeg = tf.equal(header[0], 0xFF) & tf.equal(header[1], APP1) & _equal(header[4:10], b"Exif\0\0")
        return tf.where(is_jpeg, jpeg, _equal(header[4:8], b"eXIf"))

    def searching(p):
        header = _window(raw, p, 10)
        walked_past = tf.where(
            is_jpeg, tf.not_equal(header[0], 0xFF) | tf.equal(header[1], START_OF_SCAN), _equal(header[4:8], b"IDAT")
        )
        return tf.logical_not(holds_exif(header) | walked_past | (p + 8 > end) | tf.logical_not(either))

    def next_segment(p):
        header = _window(raw, p, 10)
        code = header[1]
        standalone = tf.reduce_any(tf.equal(code, tf.constant(STANDALONE, tf.int64)))
        one, two = tf.constant(1, tf.int64), tf.constant(2, tf.int64)
        jpeg = tf.where(tf.equal(code, 0xFF), one, tf.where(standalone, two, two + _uint(header[2:4], True)))
        return (p + tf.where(is_jpeg, jpeg, 12 + _uint(header[0:4], True)),)

    p = tf.while_loop(searching, next_segment, (tf.where(is_jpeg, tf.constant(2, tf.int64), len(PNG_SIGNATURE)),))[0]
    found = holds_exif(_window(raw, p, 10)) & (p + 8 <= end) & either
    return tf.where(found, p + tf.where(is_jpeg, tf.constant(10, tf.int64), 8), -1)  # after "Exif\0\0" or the chunk header


def _orientation_in_tiff(raw, tiff):
    """The Orientation value of IFD0 of the TIFF structure at `tiff` (-1: none), else 1."""
    header = _window(raw, tiff, 8)
    big = _equal(header[0:2], b"MM")
    valid = (tiff >= 0) & (big | _equal(header[0:2], b"II")) & tf.equal(_uint(header[2:4], big), 42)
    ifd = tiff + _uint(header[4:8], big)
    count = tf.minimum(_uint(_window(raw, ifd, 2), big), MAX_ENTRIES)
    entries = _window(raw, ifd + 2 + 12 * tf.range(MAX_ENTRIES, dtype=tf.int64), 12)  # tag, type, count, value
    kinds = _uint(entries[:, 2:4], big)
    match = (
        (tf.range(MAX_ENTRIES, dtype=tf.int64) < count)
        & tf.equal(_uint(entries[:, 0:2], big), ORIENTATION_TAG)
        & (tf.equal(kinds, SHORT) | tf.equal(kinds, LONG))
    )
    at = tf.argmax(tf.cast(match, tf.int32))
    entry = tf.gather(entries, at)
    # a SHORT fills the value field's first 2 bytes, a LONG all 4
    value = tf.where(tf.equal(tf.gather(kinds, at), LONG), _uint(entry[8:12], big), _uint(entry[8:10], big))
    readable = valid & tf.reduce_any(match) & (value >= 1) & (value <= 8)
    return tf.where(readable, value, 1)


# Traced once per process: every graph that decodes (each pipeline, each exported signature)
# calls this one function instead of building its few hundred ops again.
@tf.function(input_signature=[tf.TensorSpec([], tf.string)], autograph=False)
def exif_orientation(data):
    """int64 scalar 1-8: the EXIF orientation of JPEG or PNG bytes `data`, 1 for any other
    bytes and for images without a readable tag."""
    head = tf.strings.join([tf.strings.substr(data, 0, HEAD_BYTES), b"\0"])  # the 0 every read past the end gets
    raw = tf.io.decode_raw(head, tf.uint8)
    is_png = tf.equal(tf.strings.substr(data, 0, len(PNG_SIGNATURE)), PNG_SIGNATURE)
    return _orientation_in_tiff(raw, _tiff_start(raw, tf.io.is_jpeg(data), is_png))


@tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.uint8), tf.TensorSpec([], tf.int64)], autograph=False)
def turned(pixels, orientation):
    """uint8 `pixels` `(H, W, 3)` as displayed under EXIF `orientation` (1-8): 2 mirrors
    left-right, 3 turns 180 degrees, 4 mirrors top-bottom, 5 transposes, 6 turns 90 degrees
    clockwise, 7 transposes across the other diagonal, 8 turns 90 degrees counter-clockwise;
    5-8 give `(W, H, 3)`. Orientations 5-8 are the transpose of 1-4 (in that order), then
    mirrored as 1-4 are. 1 passes the pixels through without a copy (a 12 MP photo's copy
    took 15 ms); traced once per process, like `exif_orientation`."""

    def turn():
        o = tf.cast(orientation, tf.int32)
        transposed = tf.transpose(pixels, tf.where(o >= 5, [1, 0, 2], [0, 1, 2]))
        mirror = (o - 1) % 4  # 0: none, 1: left-right, 2: both, 3: top-bottom
        axes = tf.boolean_mask(tf.constant([0, 1]), tf.stack([mirror >= 2, (mirror == 1) | (mirror == 2)]))
        return tf.ensure_shape(tf.reverse(transposed, axes), [None, None, 3])

    return tf.cond(tf.equal(orientation, 1), lambda: pixels, turn)


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
