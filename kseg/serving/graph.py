"""The computation a deployed kseg model runs: decode, segment, resize back, argmax,
optional CRF. Pure TF ops, so it lives inside a SavedModel or an ONNX graph."""

import tensorflow as tf

from kseg.layers.crf import ConvCRF, DenseCRF

PAD_LABEL = 255
CRF_CHOICES = ("dense", "conv")


def make_crf(crf, onnx=False, **params):
    """The CRF layer for `crf` in {None, "dense", "conv"}; for ONNX the DenseCRF uses
    `implementation="gather"` (tf2onnx has no SparseTensorDenseMatMul)."""
    if crf is None:
        return None
    if crf == "dense":
        if onnx:
            params.setdefault("implementation", "gather")
        return DenseCRF(**params)
    if crf == "conv":
        return ConvCRF(**params)
    raise ValueError(f"Unknown crf {crf!r}. Expected one of {CRF_CHOICES} or None.")


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
    """

    def __init__(self, model, crf=None, size=None):
        self.model = model
        self.crf = crf
        self.size = check_size(size)
        self.logits_out = model_outputs_logits(model)

    def __call__(self, images):
        """`images`: float32 `(B, H, W, 3)` in [0, 255]. Returns float32 probabilities
        `(B, H, W, C)` and int32 labels `(B, H, W)`."""
        x = images
        if self.size is not None:
            x = tf.image.resize(images, self.size, method="bilinear")
        out = tf.cast(self.model(x, training=False), tf.float32)
        if self.size is not None:
            out = tf.image.resize(out, tf.shape(images)[1:3], method="bilinear")
        logits = out if self.logits_out else tf.math.log(tf.maximum(out, 1e-12))
        if self.crf is not None:
            probabilities = tf.cast(self.crf([logits, images]), tf.float32)
        else:
            probabilities = tf.nn.softmax(logits, axis=-1)
        labels = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        return probabilities, labels


def decode_image(data):
    """JPEG/PNG/BMP/GIF bytes -> float32 `(H, W, 3)`; bytes that are not an image raise
    `InvalidArgumentError` at run time."""
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    return tf.cast(image, tf.float32)


def segment_encoded(segmenter, images, include_probabilities=True):
    """Segment a batch of encoded images of possibly different sizes.

    Each image is decoded and segmented at its own size; results are padded to the largest
    height and width in the batch (labels with 255, probabilities with 0).

    Args:
        images: `tf.string` `(B,)`.

    Returns:
        dict: `labels` int32 `(B, Hmax, Wmax)`, `image_shape` int32 `(B, 2)` (the valid
        height and width of each image) and, when asked, `probabilities` float32
        `(B, Hmax, Wmax, C)`.
    """
    count = tf.shape(images)[0]
    decoded = tf.TensorArray(tf.float32, size=count, infer_shape=False, element_shape=tf.TensorShape([None, None, 3]))
    shapes = tf.TensorArray(tf.int32, size=count, element_shape=tf.TensorShape([2]))
    for i in tf.range(count):
        image = decode_image(images[i])
        decoded = decoded.write(i, image)
        shapes = shapes.write(i, tf.shape(image)[:2])
    image_shape = tf.reshape(shapes.stack(), [-1, 2])
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
    """The `predict_tensor` signature: float `(B, H, W, 3)` in [0, 255] -> dict of `labels`
    int32 `(B, H, W)` and (optionally) `probabilities` float32 `(B, H, W, C)`."""
    probabilities, labels = segmenter(tf.cast(images, tf.float32))
    outputs = {"labels": labels}
    if include_probabilities:
        outputs["probabilities"] = probabilities
    return outputs


def trackables(segmenter):
    """The Keras objects whose variables the exported graph reads."""
    objects = [segmenter.model]
    if segmenter.crf is not None:
        objects.append(segmenter.crf)
    return objects


__all__ = [
    "CRF_CHOICES",
    "PAD_LABEL",
    "Segmenter",
    "check_size",
    "decode_image",
    "make_crf",
    "segment_encoded",
    "segment_tensor",
    "trackables",
]
