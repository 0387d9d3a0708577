"""A JPEG's size from its frame header, read in the graph without libjpeg.

`tf.image.extract_jpeg_shape` runs libjpeg's header reader, whose failure on a truncated
or corrupt header is an error that names no image of the batch. Here the marker segments
(ITU-T T.81 Annex B: 0xFF, a marker code, a big-endian length that counts itself) are
walked from the start-of-image to the first start-of-frame marker, whose segment holds the
precision, then the height and width; a file without one is refused naming its image.
"""

import tensorflow as tf

from kseg.serving.formats import byte_at

# Start-of-frame markers: 0xC0-0xCF except DHT (0xC4), JPG (0xC8) and DAC (0xCC).
START_OF_FRAME = tuple(code for code in range(0xC0, 0xD0) if code not in (0xC4, 0xC8, 0xCC))
# Markers without a length: TEM, RST0-7, SOI, EOI.
STANDALONE = (0x01, *range(0xD0, 0xDA))


def _is_one_of(code, codes):
    return tf.reduce_any(tf.equal(code, tf.constant(codes, tf.int64)))


def _start_of_frame(raw):
    """Position of the first start-of-frame marker's 0xFF, or -1 if the walk finds none."""
    end = tf.size(raw, out_type=tf.int64)

    def searching(p):
        at_marker = tf.equal(byte_at(raw, p), 0xFF)
        return tf.logical_and(tf.logical_and(p + 1 < end, at_marker), tf.logical_not(_is_one_of(byte_at(raw, p + 1), START_OF_FRAME)))

    def next_marker(p):
        code = byte_at(raw, p + 1)
        length = 256 * byte_at(raw, p + 2) + byte_at(raw, p + 3)
        one, two = tf.constant(1, tf.int64), tf.constant(2, tf.int64)
        step = tf.where(tf.equal(code, 0xFF), one, tf.where(_is_one_of(code, STANDALONE), two, two + length))
        return (p + step,)

    p = tf.while_loop(searching, next_marker, (tf.constant(2, tf.int64),))[0]
    found = tf.logical_and(tf.equal(byte_at(raw, p), 0xFF), _is_one_of(byte_at(raw, p + 1), START_OF_FRAME))
    return tf.where(tf.logical_and(found, p + 8 < end), p, -1)


def jpeg_shape(data, index):
    """int64 (height, width) of JPEG bytes `data` from their start-of-frame segment; a JPEG
    without one fails an assertion naming `images[index]`."""
    raw = tf.io.decode_raw(data, tf.uint8)
    at = _start_of_frame(raw)
    message = tf.strings.format(
        "images[{}]: a JPEG without a frame header ({} bytes: truncated or corrupt)", (index, tf.size(raw))
    )
    with tf.control_dependencies([tf.debugging.Assert(at > 0, [message])]):
        return tf.stack([256 * byte_at(raw, at + 5) + byte_at(raw, at + 6), 256 * byte_at(raw, at + 7) + byte_at(raw, at + 8)])
