"""Decoding a request's images, with a decoder failure refused as `images[i]`.

TensorFlow's decoders fail the whole graph with their own message ("Invalid JPEG data or
crop window", "Invalid PNG data") and nothing says which image of a batch it was; a graph
cannot catch an op's error. A `tf.data` pipeline can: the decoder runs in a map over
(index, bytes) whose failures `ignore_errors` drops, the survivors are gathered by index,
and a missing index is refused by name. Everything checkable from the headers (format,
size, BMP layout, GIF frame placement) has been refused with its own message before
(`kseg.serving.graph`); what is left for the decoder to find is data it cannot read
(truncated, corrupt). The map holds the decoder op alone and the pipeline runs without
tf.data's rewrites and autotuning: a pipeline costs each request a few milliseconds
(`benchmarks/serving_decode.py`).
"""

import tensorflow as tf

from kseg.serving.exif import exif_orientation, turned
from kseg.serving.formats import format_name, format_signatures
from kseg.serving.gif import gif_frame_alone, gif_on_screen


def decoder_input(data, index=0):
    """The bytes TensorFlow's decoder gets: a GIF's first frame alone (`kseg.serving.gif`:
    `tf.io.decode_gif` would decompress every frame, sized by the largest), others as they are."""
    return tf.cond(format_signatures(data)[2], lambda: gif_frame_alone(data, index), lambda: data)


# libjpeg's accurate integer IDCT, its own default and Pillow's: TensorFlow's default ("INTEGER_FAST")
# differs from Pillow's decode on about 60% of a photo's pixels, by up to 8 levels, and the file pipeline
# decodes with Pillow; with this one every kseg decoder gives the same pixels (tests/serving/test_decoding.py).
JPEG_DCT_METHOD = "INTEGER_ACCURATE"


def decode_pixels(data):
    """uint8 `(H, W, 3)` of `decoder_input` bytes, turned by a JPEG's or PNG's EXIF orientation
    as viewers show it (`kseg.serving.exif`): the decoder is the one op here that can fail on
    bad data."""
    pixels = tf.cond(
        tf.io.is_jpeg(data),
        lambda: tf.io.decode_jpeg(data, channels=3, dct_method=JPEG_DCT_METHOD),
        lambda: tf.io.decode_image(data, channels=3, expand_animations=False),
    )
    return turned(pixels, exif_orientation(data))


def finish_decoding(pixels, data, index=0):
    """float32 `(H, W, 3)` from `decode_pixels`' output; a GIF's frame placed on its screen."""
    pixels = tf.cast(pixels, tf.float32)
    return tf.cond(format_signatures(data)[2], lambda: gif_on_screen(pixels, data, index), lambda: pixels)


def decode_image(data, index=0):
    """JPEG/PNG/BMP/GIF bytes -> float32 `(H, W, 3)` (a GIF: its first frame alone, at its
    screen's size); bytes that are not an image raise `InvalidArgumentError` at run time."""
    return finish_decoding(decode_pixels(decoder_input(data, index)), data, index)


def message(*parts):
    """Scalar string of `parts` (strings and numbers, Python or tensors) joined as they are
    (`tf.strings.format` would quote string tensors): an assertion's message."""
    return tf.strings.join([
        part if isinstance(part, str) or (tf.is_tensor(part) and part.dtype == tf.string) else tf.strings.as_string(part)
        for part in parts
    ])


def _pipeline_options():
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    options.autotune.enabled = False
    options.deterministic = True
    return options


def _decode_by_index(images, count):
    """(uint8 images `TensorArray`, bool `(B,)` which of them decoded)."""
    prepared = tf.map_fn(lambda i: decoder_input(images[i], i), tf.range(count), fn_output_signature=tf.string)
    indexed = tf.data.Dataset.from_tensor_slices((tf.range(count), prepared))
    decoded = indexed.map(lambda i, data: (i, decode_pixels(data))).ignore_errors().with_options(_pipeline_options())

    def gather(state, element):
        arrays, done = state
        i, pixels = element
        return arrays.write(i, pixels), tf.tensor_scatter_nd_update(done, tf.reshape(i, [1, 1]), [True])

    empty = tf.TensorArray(tf.uint8, size=count, infer_shape=False, element_shape=tf.TensorShape([None, None, 3]))
    return decoded.reduce((empty, tf.zeros([count], tf.bool)), gather)


def decode_batch(images, count):
    """Decode every image of a request, naming the first that cannot be decoded.

    Args:
        images: `tf.string` `(B,)` encoded images whose headers were checked already.
        count: int32 scalar, B.

    Returns:
        (a `tf.TensorArray` of the B float32 `(H, W, 3)` images as `decode_image` gives
        them, int32 `(B, 2)` their heights and widths). An image the decoder fails on
        raises `InvalidArgumentError` "images[i]: the JPEG data cannot be decoded (N bytes:
        truncated or corrupt)".
    """
    pixels, done = _decode_by_index(images, count)
    first = tf.argmin(tf.cast(done, tf.int32), output_type=tf.int32)
    data = images[tf.minimum(first, count - 1)]
    refusal = message(
        "images[", first, "]: the ", format_name(data), " data cannot be decoded (", tf.strings.length(data),
        " bytes: truncated or corrupt)",
    )
    with tf.control_dependencies([tf.debugging.Assert(tf.reduce_all(done), [refusal])]):
        decoded = tf.TensorArray(tf.float32, size=count, infer_shape=False, element_shape=tf.TensorShape([None, None, 3]))
    shapes = tf.TensorArray(tf.int32, size=count, element_shape=tf.TensorShape([2]))
    for i in tf.range(count):
        image = finish_decoding(pixels.read(i), images[i], i)
        decoded = decoded.write(i, image)
        shapes = shapes.write(i, tf.shape(image)[:2])
    return decoded, tf.reshape(shapes.stack(), [-1, 2])
