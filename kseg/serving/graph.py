"""The computation a deployed kseg model runs: decode, segment, resize back, argmax,
optional CRF. Pure TF ops, so it lives inside a SavedModel or an ONNX graph."""

import tensorflow as tf

from kseg.constants import IGNORE_LABEL, MAX_PIXELS, MAX_SIDE  # MAX_*: the serving size policy
from kseg.layers import crf as crf_layers
from kseg.serving.decoding import decode_batch, decode_image
from kseg.serving.exif import exif_orientation, turned_shape
from kseg.serving.formats import format_signatures
from kseg.serving.gif import gif_screen_shape
from kseg.serving.jpeg import jpeg_shape

PAD_LABEL = IGNORE_LABEL  # labels outside each image of a padded batch
# Where a PNG's and a BMP's header fields end: a BMP's file header (14), its largest info
# header (BITMAPV5HEADER, 124), bit-field masks (12) and a 256-colour palette (1024), with room.
HEADER_BYTES = 2048


def make_crf(crf, onnx=False, **params):
    """The CRF layer for `crf` (None or a name of `kseg.layers.crf.CRF_LAYERS`); for ONNX the
    DenseCRF uses `implementation="gather"` (tf2onnx has no SparseTensorDenseMatMul)."""
    if crf is None:
        return None
    if crf == "dense" and onnx:
        params.setdefault("implementation", "gather")
    return crf_layers.make_crf(crf, **params)


def check_size(size):
    """`None` or a pair of positive ints (H, W)."""
    if size is None:
        return None
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"Expected size=(H, W) with positive sides. Received: size={size!r}")
    return size


def model_outputs_logits(model):
    """kseg models output logits unless built with `activation="softmax"`."""
    return getattr(model, "activation", None) is None




class Segmenter:
    """Images in, (probabilities, labels) out, at each image's own size.

    Args:
        model: a kseg segmentation model: RGB 0-255 `(B, H, W, 3)` in, `(B, H, W, C)` logits
            (or probabilities) out.
        crf: `None` or a `DenseCRF`/`ConvCRF` layer refining the probabilities with the image.
        size: `None` to run the model at the image's own size (the models are fully
            convolutional), or `(H, W)` to resize every image to that size (bilinear) and the
            output back to the image's size.
        max_side: `None`, or an int: with `size=None`, an image whose longer side exceeds it
            is downscaled (bilinear, aspect kept) so that side is `max_side` before the
            network, and the network's output is resized back to the image's size.
    """

    def __init__(self, model, crf=None, size=None, max_side=None):
        self.model = model
        self.crf = crf
        self.size = check_size(size)
        if max_side is not None and int(max_side) < 1:
            raise ValueError(f"Expected max_side >= 1 or None. Received: max_side={max_side!r}")
        self.max_side = None if max_side is None else int(max_side)
        self.logits_out = model_outputs_logits(model)

    def _network_input(self, images):
        if self.size is not None:
            return tf.image.resize(images, self.size, method="bilinear")
        if self.max_side is None:
            return images
        hw = tf.shape(images)[1:3]
        scale = self.max_side / tf.cast(tf.reduce_max(hw), tf.float32)
        target = tf.maximum(tf.cast(tf.round(tf.cast(hw, tf.float32) * scale), tf.int32), 1)
        return tf.cond(scale < 1.0, lambda: tf.image.resize(images, target, method="bilinear"), lambda: images)

    # Its branches are tf.cond already, and kseg's layers are plain TF ops: autograph's source
    # transformation of the model's call tree added ~3 s to every export and changed nothing.
    @tf.autograph.experimental.do_not_convert
    def __call__(self, images):
        """`images`: float32 `(B, H, W, 3)` in [0, 255]. Returns float32 probabilities
        `(B, H, W, C)` and int32 labels `(B, H, W)`."""
        x = self._network_input(images)
        out = tf.cast(self.model(x, training=False), tf.float32)
        if self.size is not None:
            out = tf.image.resize(out, tf.shape(images)[1:3], method="bilinear")
        elif self.max_side is not None:
            out = tf.cond(
                tf.reduce_all(tf.equal(tf.shape(out)[1:3], tf.shape(images)[1:3])),
                lambda: out,
                lambda: tf.image.resize(out, tf.shape(images)[1:3], method="bilinear"),
            )
        logits = out if self.logits_out else tf.math.log(tf.maximum(out, 1e-12))
        if self.crf is not None:
            probabilities = tf.cast(self.crf([logits, images]), tf.float32)
        else:
            probabilities = tf.nn.softmax(logits, axis=-1)
        labels = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        return probabilities, labels


def _uint(data, start, count, big_endian):
    """The unsigned integer in bytes [start, start + count) of `data` (scalar string)."""
    raw = tf.cast(tf.io.decode_raw(tf.strings.substr(data, start, count), tf.uint8), tf.int64)
    powers = range(count - 1, -1, -1) if big_endian else range(count)
    return tf.reduce_sum(raw * tf.constant([256**k for k in powers], tf.int64))


def encoded_image_shape(data, index, orientation=None):
    """(height, width) int64 of encoded image bytes as displayed, read from the header without
    decoding the pixels (JPEG frame header, PNG IHDR, GIF screen, BMP header; swapped when a
    JPEG's or PNG's EXIF orientation turns it a quarter, `kseg.serving.exif`; `orientation`:
    that orientation if the caller has read it, else None). Bytes of no supported format fail
    an assertion naming `images[index]`."""
    # PNG's and BMP's fields (a BMP's palette included) lie in the first bytes: read from a
    # copy of those, not of the file, with zeros after them so every read stays in range
    padded = tf.strings.join([tf.strings.substr(data, 0, HEADER_BYTES), tf.constant(b"\0" * 32)])
    signatures = format_signatures(data)
    is_jpeg, is_png, is_gif = signatures[0], signatures[1], signatures[2]
    known = tf.reduce_any(signatures)
    message = tf.strings.format("images[{}]: not a JPEG, PNG, GIF or BMP image ({} bytes)", (index, tf.strings.length(data)))
    with tf.control_dependencies([tf.debugging.Assert(known, [message])]):
        stored = tf.case(
            [
                (is_jpeg, lambda: jpeg_shape(data, index)),
                (is_png, lambda: tf.stack([_uint(padded, 20, 4, True), _uint(padded, 16, 4, True)])),
                (is_gif, lambda: gif_screen_shape(data, index)),
            ],
            default=lambda: _bmp_shape(padded, index),
        )
    return turned_shape(stored, exif_orientation(data) if orientation is None else orientation)


def _bmp_shape(padded, index):
    """(height, width) from a BMP's BITMAPINFOHEADER (or a later version), asserting that it
    is a layout TensorFlow's decoder reads right: 24 or 32 bits a pixel, or 8 with the grey
    palette (other palettes would come back as their indices, 1/4/16-bit and OS/2 headers
    fail inside the decoder), uncompressed or bit fields. A negative height (a top-down
    BMP) is its size. `padded`: the file's first `HEADER_BYTES` and zeros after them."""
    header, bits, compression = _uint(padded, 14, 4, False), _uint(padded, 28, 2, False), _uint(padded, 30, 4, False)
    height = _uint(padded, 22, 4, False)
    height = tf.where(height >= 2**31, 2**32 - height, height)  # int32 in the file: negative means top-down
    colours = _uint(padded, 46, 4, False)
    start = tf.minimum(14 + header, tf.cast(tf.strings.length(padded), tf.int64))  # a header size past the end reads zeros
    extended = tf.strings.join([padded, tf.constant(b"\0" * 1024)])
    palette = tf.io.decode_raw(tf.strings.substr(extended, start, tf.constant(1024, tf.int64)), tf.uint8)
    grey = tf.tile(tf.cast(tf.range(256), tf.uint8)[:, None], [1, 3])
    used = tf.cast(tf.where(tf.logical_or(colours == 0, colours > 256), tf.constant(256, tf.int64), colours), tf.int32)
    grey_palette = tf.reduce_all(tf.equal(tf.reshape(palette, [256, 4])[:used, :3], grey[:used]))
    readable = tf.logical_and(
        tf.logical_and(header >= 40, tf.logical_or(compression == 0, compression == 3)),
        tf.logical_or(tf.logical_or(bits == 24, bits == 32), tf.logical_and(bits == 8, grey_palette)),
    )
    message = tf.strings.format(
        "images[{}]: a {}-bit BMP (header {} bytes, compression {}) that the decoder cannot read as it is: "
        "send 24/32-bit or 8-bit grey BMPs, or PNG",
        (index, bits, header, compression),
    )
    with tf.control_dependencies([tf.debugging.Assert(readable, [message])]):
        return tf.stack([height, _uint(padded, 18, 4, False)])


def checked_shape(data, index, max_pixels=MAX_PIXELS):
    """`encoded_image_shape`, asserting that the image has at most `max_pixels` pixels (None:
    no cap); each side is checked first, so no header's width x height can overflow."""
    hw = encoded_image_shape(data, index)
    if max_pixels is None:
        return hw
    cap = tf.constant(max_pixels, tf.int64)
    within = tf.logical_and(tf.reduce_all(hw <= cap), hw[0] * tf.minimum(hw[1], cap) <= cap)
    message = tf.strings.format(
        "images[{}]: {}x{} is {} pixels, more than the {} this model accepts (export --max-pixels)",
        (index, hw[1], hw[0], tf.cast(hw[0], tf.float64) * tf.cast(hw[1], tf.float64), max_pixels),
    )
    with tf.control_dependencies([tf.debugging.Assert(within, [message])]):
        return tf.identity(hw)


def checked_decode(data, index, max_pixels=MAX_PIXELS):
    """`decode_image`, after checking from the header that the image is one of the supported
    formats and has at most `max_pixels` pixels (None: no cap); errors name `images[index]`."""
    hw = checked_shape(data, index, max_pixels)
    with tf.control_dependencies([hw]):
        return decode_image(data, index)


def _check_request(images, count, max_pixels):
    """Every image's header checked (format, `max_pixels`), and the whole request's padded
    canvas -- count x the largest height x the largest width, what the labels and
    probabilities are returned in -- at most `max_pixels`, before anything is decoded."""
    shapes = tf.map_fn(
        lambda i: checked_shape(images[i], i, max_pixels), tf.range(count),
        fn_output_signature=tf.TensorSpec([2], tf.int64),
    )
    if max_pixels is None:
        return shapes
    largest = tf.reduce_max(tf.reshape(shapes, [-1, 2]), axis=0)
    canvas = tf.cast(count, tf.float64) * tf.cast(largest[0], tf.float64) * tf.cast(largest[1], tf.float64)
    message = tf.strings.format(
        "images: {} images padded to the largest height {} and width {} are {} pixels, more than the {} a request "
        "may hold (export --max-pixels); send images of very different shapes in separate requests",
        (count, largest[0], largest[1], canvas, max_pixels),
    )
    return tf.debugging.Assert(canvas <= max_pixels, [message])


def _check_not_empty(count):
    return tf.debugging.Assert(count > 0, ["images: an empty batch; send at least one image"])


def segment_encoded(segmenter, images, include_probabilities=True, max_pixels=MAX_PIXELS):
    """Segment a batch of encoded images of possibly different sizes.

    Each image is checked from its header (format, at most `max_pixels` pixels), and so is
    the request (its images padded to the largest height and width, at most `max_pixels`),
    all before anything is decoded; then each is decoded and segmented at its own size;
    results are padded to the largest height and width in the batch (labels with 255,
    probabilities with 0). A bad image fails the request with
    an `InvalidArgumentError` naming it (`images[1]: ...`).

    Args:
        images: `tf.string` `(B,)`, B >= 1.

    Returns:
        dict: `labels` int32 `(B, Hmax, Wmax)`, `image_shape` int32 `(B, 2)` (the valid
        height and width of each image) and, when asked, `probabilities` float32
        `(B, Hmax, Wmax, C)`.
    """
    count = tf.shape(images)[0]
    with tf.control_dependencies([_check_not_empty(count)]):
        count = tf.identity(count)
    with tf.control_dependencies([_check_request(images, count, max_pixels)]):
        count = tf.identity(count)
    decoded, image_shape = decode_batch(images, count)
    max_hw = tf.reduce_max(tf.concat([image_shape, tf.zeros([1, 2], tf.int32)], axis=0), axis=0)

    num_classes = segmenter.model.output_shape[-1]
    labels_out = tf.TensorArray(tf.int32, size=count, element_shape=tf.TensorShape([None, None]))
    probs_out = tf.TensorArray(tf.float32, size=count, element_shape=tf.TensorShape([None, None, num_classes]))
    for i in tf.range(count):
        image = decoded.read(i)
        probabilities, labels = segmenter(image[None])
        pad = [[0, max_hw[0] - image_shape[i, 0]], [0, max_hw[1] - image_shape[i, 1]]]
        labels_out = labels_out.write(i, tf.pad(labels[0], pad, constant_values=PAD_LABEL))
        if include_probabilities:
            probs_out = probs_out.write(i, tf.pad(probabilities[0], pad + [[0, 0]]))
    outputs = {
        "labels": tf.reshape(labels_out.stack(), [count, max_hw[0], max_hw[1]]),
        "image_shape": image_shape,
    }
    if include_probabilities:
        outputs["probabilities"] = tf.reshape(probs_out.stack(), [count, max_hw[0], max_hw[1], num_classes])
    return outputs


def segment_tensor(segmenter, images, include_probabilities=True):
    """The `predict_tensor` signature: float `(B, H, W, 3)` in [0, 255], B >= 1 -> dict of
    `labels` int32 `(B, H, W)` and (optionally) `probabilities` float32 `(B, H, W, C)`."""
    with tf.control_dependencies([_check_not_empty(tf.shape(images)[0])]):
        images = tf.cast(images, tf.float32)
    probabilities, labels = segmenter(images)
    outputs = {"labels": labels}
    if include_probabilities:
        outputs["probabilities"] = probabilities
    return outputs



__all__ = [
    "MAX_PIXELS",
    "MAX_SIDE",
    "checked_decode",
    "encoded_image_shape",
    "PAD_LABEL",
    "Segmenter",
    "check_size",
    "decode_image",
    "make_crf",
    "segment_encoded",
    "segment_tensor",
]
