"""The first frame of a GIF, decoded in the graph at the size its header promises.

`tf.io.decode_gif` decompresses every frame of an animation (kseg uses only the first) and
sizes its output by the largest frame, whatever the logical screen says: a 16x16 screen
can carry a 65535x65535 frame, and a frame placed at an offset inside the screen comes
back cropped to its own size. So the bytes are walked here first (GIF89a: header, logical
screen descriptor, global colour table, extension blocks, image descriptor; each a few
TF ops over `decode_raw` bytes), the first frame is checked to lie inside the screen,
handed to the decoder alone (moved to the origin, the stream cut after its image data),
and placed on a screen-sized canvas of the background colour, as Pillow shows it.
"""

import tensorflow as tf

INTRODUCER_EXTENSION, INTRODUCER_IMAGE = 0x21, 0x2C
TRAILER = b"\x3b"


def _byte(raw, at):
    """`raw[at]` as int64, 0 past the end (reads stay in range whatever the file claims)."""
    at = tf.cast(at, tf.int64)
    inside = tf.logical_and(at >= 0, at < tf.size(raw, out_type=tf.int64))
    return tf.where(inside, tf.gather(raw, tf.clip_by_value(at, 0, tf.maximum(tf.size(raw, out_type=tf.int64) - 1, 0))), 0)


def _short(raw, at):
    return _byte(raw, at) + 256 * _byte(raw, at + 1)


def _colour_table_bytes(flags):
    """Bytes of the colour table a descriptor's packed `flags` announce (0 without one)."""
    return tf.where(flags >= 128, 3 * tf.bitwise.left_shift(tf.constant(2, tf.int64), flags % 8), 0)


def _skip_sub_blocks(raw, at):
    """The position after the data sub-blocks starting at `at` (size byte, data; a 0 ends them)."""
    end = tf.size(raw, out_type=tf.int64)
    return tf.while_loop(
        lambda p: tf.logical_and(p < end, _byte(raw, p) > 0),
        lambda p: (p + _byte(raw, p) + 1,),
        (at,),
    )[0] + 1


def _first_image_descriptor(raw):
    """Position of the first image descriptor (0x2C), past the extensions before it; -1 if none."""
    end = tf.size(raw, out_type=tf.int64)
    start = 13 + _colour_table_bytes(_byte(raw, 10))

    def walking(p):
        return tf.logical_and(p < end, tf.equal(_byte(raw, p), INTRODUCER_EXTENSION))

    p = tf.while_loop(walking, lambda p: (_skip_sub_blocks(raw, p + 2),), (start,))[0]
    return tf.where(tf.equal(_byte(raw, p), INTRODUCER_IMAGE), p, -1)


def gif_first_frame(data, index):
    """float32 `(screen height, screen width, 3)`: the first frame of GIF bytes `data` on its
    logical screen, the rest filled with the background colour. A GIF without an image, or
    whose first frame does not lie inside its screen, fails an assertion naming `images[index]`."""
    raw = tf.cast(tf.io.decode_raw(data, tf.uint8), tf.int64)
    screen_w, screen_h = _short(raw, 6), _short(raw, 8)
    at = _first_image_descriptor(raw)
    left, top, width, height = (_short(raw, at + k) for k in (1, 3, 5, 7))
    inside = tf.reduce_all(tf.stack([at > 0, width > 0, height > 0, left + width <= screen_w, top + height <= screen_h]))
    message = tf.strings.format(
        "images[{}]: a GIF whose first frame ({}x{} at {},{}) is not inside its {}x{} screen",
        (index, width, height, left, top, screen_w, screen_h),
    )
    with tf.control_dependencies([tf.debugging.Assert(inside, [message])]):
        pixels = at + 10 + _colour_table_bytes(_byte(raw, at + 9))
        end = _skip_sub_blocks(raw, pixels + 1)  # past the LZW code size byte and the image data
    # the frame alone, moved to the origin: header and screen, extensions, descriptor, data, trailer
    alone = tf.strings.join([
        tf.strings.substr(data, tf.constant(0, tf.int64), at + 1), tf.constant(b"\0\0\0\0"),
        tf.strings.substr(data, at + 5, end - at - 5), tf.constant(TRAILER),
    ])
    frame = tf.cast(tf.io.decode_gif(alone)[0], tf.float32)
    table = tf.reshape(tf.cast(raw[13 : 13 + _colour_table_bytes(_byte(raw, 10))], tf.float32), [-1, 3])
    background = tf.cond(
        tf.shape(table, out_type=tf.int64)[0] > _byte(raw, 11),
        lambda: tf.gather(table, _byte(raw, 11)), lambda: tf.zeros([3]),
    )
    placed = tf.pad(frame - background, [[top, screen_h - top - height], [left, screen_w - left - width], [0, 0]])
    return placed + background
