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

from kseg.serving.formats import byte_at

INTRODUCER_EXTENSION, INTRODUCER_IMAGE = 0x21, 0x2C
TRAILER = b"\x3b"


def _short(raw, at):
    return byte_at(raw, at) + 256 * byte_at(raw, at + 1)


def _colour_table_bytes(flags):
    """Bytes of the colour table a descriptor's packed `flags` announce (0 without one)."""
    return tf.where(flags >= 128, 3 * tf.bitwise.left_shift(tf.constant(2, tf.int64), flags % 8), 0)


def _skip_sub_blocks(raw, at):
    """The position after the data sub-blocks starting at `at` (size byte, data; a 0 ends them)."""
    end = tf.size(raw, out_type=tf.int64)
    return tf.while_loop(
        lambda p: tf.logical_and(p < end, byte_at(raw, p) > 0),
        lambda p: (p + byte_at(raw, p) + 1,),
        (at,),
    )[0] + 1


def _first_image_descriptor(raw):
    """Position of the first image descriptor (0x2C), past the extensions before it; -1 if none."""
    end = tf.size(raw, out_type=tf.int64)
    start = 13 + _colour_table_bytes(byte_at(raw, 10))

    def walking(p):
        return tf.logical_and(p < end, tf.equal(byte_at(raw, p), INTRODUCER_EXTENSION))

    p = tf.while_loop(walking, lambda p: (_skip_sub_blocks(raw, p + 2),), (start,))[0]
    return tf.where(tf.equal(byte_at(raw, p), INTRODUCER_IMAGE), p, -1)


def _placed_first_frame(data, index):
    """(bytes as uint8, screen (w, h), first frame's descriptor position, (left, top, width,
    height)), once an assertion naming `images[index]` has checked that the GIF has an image
    and that its first frame lies inside the screen."""
    raw = tf.io.decode_raw(data, tf.uint8)
    screen_w, screen_h = _short(raw, 6), _short(raw, 8)
    at = _first_image_descriptor(raw)
    left, top, width, height = (_short(raw, at + k) for k in (1, 3, 5, 7))
    has_image = tf.debugging.Assert(at > 0, [tf.strings.format(
        "images[{}]: a GIF without an image ({} bytes: truncated or corrupt)", (index, tf.size(raw)))])
    inside = tf.reduce_all(tf.stack([width > 0, height > 0, left + width <= screen_w, top + height <= screen_h]))
    message = tf.strings.format(
        "images[{}]: a GIF whose first frame ({}x{} at {},{}) is not inside its {}x{} screen",
        (index, width, height, left, top, screen_w, screen_h),
    )
    with tf.control_dependencies([has_image, tf.debugging.Assert(tf.logical_or(at <= 0, inside), [message])]):
        return tf.identity(raw), (screen_w, screen_h), tf.identity(at), (left, top, width, height)


def gif_screen_shape(data, index):
    """int64 (height, width) of a GIF's logical screen, from its header, once its first frame
    is checked to lie inside it (the size `gif_on_screen` returns)."""
    _, (screen_w, screen_h), _, _ = _placed_first_frame(data, index)
    return tf.stack([screen_h, screen_w])


def gif_frame_alone(data, index):
    """Scalar string: GIF bytes holding only the first frame of `data`, moved to the origin
    (header and screen, the extensions before it, its descriptor and data, a trailer), once
    the frame is checked to lie inside the screen (an assertion naming `images[index]`)."""
    raw, _, at, _ = _placed_first_frame(data, index)
    pixels = at + 10 + _colour_table_bytes(byte_at(raw, at + 9))
    end = _skip_sub_blocks(raw, pixels + 1)  # past the LZW code size byte and the image data
    return tf.strings.join([
        tf.strings.substr(data, tf.constant(0, tf.int64), at + 1), tf.constant(b"\0\0\0\0"),
        tf.strings.substr(data, at + 5, end - at - 5), tf.constant(TRAILER),
    ])


def gif_on_screen(frame, data, index):
    """float32 `(screen height, screen width, 3)`: the decoded first frame (float32 `(h, w,
    3)` of `gif_frame_alone`) placed where GIF bytes `data` put it on their logical screen,
    the rest filled with the background colour, as Pillow shows it."""
    raw, (screen_w, screen_h), _, (left, top, width, height) = _placed_first_frame(data, index)
    table = tf.reshape(tf.cast(raw[13 : 13 + _colour_table_bytes(byte_at(raw, 10))], tf.float32), [-1, 3])
    background = tf.cond(
        tf.shape(table, out_type=tf.int64)[0] > byte_at(raw, 11),
        lambda: tf.gather(table, byte_at(raw, 11)), lambda: tf.zeros([3]),
    )
    placed = tf.pad(frame - background, [[top, screen_h - top - height], [left, screen_w - left - width], [0, 0]])
    return placed + background
