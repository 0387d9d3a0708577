"""The image formats the serving graph reads, told apart by their first bytes."""

import tensorflow as tf

FORMAT_NAMES = ("JPEG", "PNG", "GIF", "BMP")


def format_signatures(data):
    """bool `(4,)`: whether scalar string `data` starts like a JPEG, PNG, GIF, BMP (`FORMAT_NAMES`)."""
    return tf.stack([
        tf.io.is_jpeg(data),
        tf.equal(tf.strings.substr(data, 0, 8), b"\x89PNG\r\n\x1a\n"),
        tf.equal(tf.strings.substr(data, 0, 4), b"GIF8"),
        tf.equal(tf.strings.substr(data, 0, 2), b"BM"),
    ])


def format_name(data):
    """Scalar string: "JPEG", "PNG", "GIF" or "BMP" by the signature of `data`, else "image"."""
    known = tf.concat([format_signatures(data), [True]], 0)
    return tf.gather(tf.constant([*FORMAT_NAMES, "image"]), tf.where(known)[0, 0])


def byte_at(raw, at):
    """`raw[at]` as int64 for `raw` uint8 `(N,)` (a file's bytes from `tf.io.decode_raw`, N >= 1:
    the format's signature was read first), 0 past either end: header walks stay in range
    whatever the file claims. Only the byte read is widened: a whole file cast to int64 would
    be 8 bytes of memory for each of its bytes."""
    at = tf.cast(at, tf.int64)
    size = tf.size(raw, out_type=tf.int64)
    inside = tf.logical_and(at >= 0, at < size)
    byte = tf.cast(tf.gather(raw, tf.clip_by_value(at, 0, tf.maximum(size - 1, 0))), tf.int64)
    return tf.where(inside, byte, 0)
