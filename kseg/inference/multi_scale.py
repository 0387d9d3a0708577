"""Multi-scale and flip test-time augmentation (PAN Tab. 5, DeepLab MSC)."""

import tensorflow as tf

from kseg.constants import TTA_FUSIONS as FUSIONS
from kseg.inference.batch import as_batch


def predict_multi_scale(model, image, scales=(1.0,), flip=False, fusion="mean"):
    """Test-time augmentation over scales and horizontal flips (PAN Tab. 5, DeepLab MSC).

    The image is resized by each scale (side `ceil(side * scale)`, bilinear), run through
    `model`, and the logits are resized back to the image size; with `flip` the mirrored
    image is run too and its output mirrored back. Fusion: "mean" averages the softmax
    probabilities (PAN), "max" takes the element-wise maximum of the logits (DeepLab's
    MSC).

    Args:
        model: callable mapping (B, h, w, 3) RGB 0-255 to logits (B, h, w, C).
        image: (H, W, 3) or (B, H, W, 3), RGB 0-255.
        scales: sequence of positive floats.
        flip: bool.
        fusion: "mean" or "max".

    Returns:
        "mean": probabilities; "max": logits; (B, H, W, C) or (H, W, C) like the input.
    """
    if fusion not in FUSIONS:
        raise ValueError(f"Expected fusion in {FUSIONS}. Received: fusion={fusion!r}")
    scales = tuple(float(s) for s in scales)
    if not scales or min(scales) <= 0:
        raise ValueError(f"Expected positive scales. Received: scales={scales}")
    images, single = as_batch(image)
    size = tf.shape(images)[1:3]
    outputs = []
    for scale in scales:
        scaled_size = tf.cast(tf.math.ceil(tf.cast(size, tf.float32) * scale - 1e-4), tf.int32)
        scaled = images if scale == 1.0 else tf.image.resize(images, scaled_size, method="bilinear")
        variants = [(scaled, False)] + ([(tf.reverse(scaled, [2]), True)] if flip else [])
        for x, flipped in variants:
            logits = tf.cast(model(x, training=False), tf.float32)
            if flipped:
                logits = tf.reverse(logits, [2])
            logits = tf.image.resize(logits, size, method="bilinear")
            outputs.append(tf.nn.softmax(logits, axis=-1) if fusion == "mean" else logits)
    fused = tf.add_n(outputs) / len(outputs) if fusion == "mean" else tf.reduce_max(tf.stack(outputs), axis=0)
    return fused[0] if single else fused
