"""CRF refinement of a segmentation (DeepLab v2 §3.3 post-processing)."""

import tensorflow as tf

from kseg.layers.crf import make_crf


def refine(logits, image, crf="dense", **params):
    """Refine a segmentation with a CRF (DeepLab v2 §3.3 post-processing).

    Args:
        logits: `(B, H, W, C)` or `(H, W, C)` unary log-probabilities up to a constant
            (a kseg model's output), at the image's size.
        image: `(B, H, W, 3)` or `(H, W, 3)` RGB, uint8 or float in [0, 255].
        crf: "dense" (`kseg.layers.DenseCRF`) or "conv" (`kseg.layers.ConvCRF`), or such a
            layer, built once and reused across calls (its traced graph with it).
        **params: constructor arguments of the CRF layer (e.g. `num_iterations=10`,
            `theta_alpha=80`) when `crf` is a name.

    Returns:
        Probabilities with the shape of `logits`, float32.
    """
    layer = make_crf(crf, **params) if isinstance(crf, str) else crf
    logits = tf.convert_to_tensor(logits)
    image = tf.convert_to_tensor(image)
    single = logits.shape.rank == 3
    if single:
        logits, image = logits[None], image[None]
    if logits.shape.rank != 4 or image.shape.rank != 4:
        raise ValueError(
            f"Expected logits (B, H, W, C) and image (B, H, W, 3), or both without B. "
            f"Received logits {logits.shape} and image {image.shape}"
        )
    probabilities = layer([logits, image])
    return probabilities[0] if single else probabilities
