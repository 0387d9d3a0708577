"""Test-time procedures on top of a segmentation model's output."""

import tensorflow as tf

from kseg.layers.crf import ConvCRF, DenseCRF

CRFS = {"dense": DenseCRF, "conv": ConvCRF}


def refine(logits, image, crf="dense", **params):
    """Refine a segmentation with a CRF (DeepLab v2 §3.3 post-processing).

    Args:
        logits: `(B, H, W, C)` or `(H, W, C)` unary log-probabilities up to a constant
            (a kseg model's output), at the image's size.
        image: `(B, H, W, 3)` or `(H, W, 3)` RGB, uint8 or float in [0, 255].
        crf: "dense" (`kseg.layers.DenseCRF`) or "conv" (`kseg.layers.ConvCRF`).
        **params: constructor arguments of the CRF layer (e.g. `num_iterations=10`,
            `theta_alpha=80`).

    Returns:
        Probabilities with the shape of `logits`, float32.
    """
    if crf not in CRFS:
        raise ValueError(f"Unknown crf {crf!r}. Expected one of {sorted(CRFS)}.")
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
    probabilities = CRFS[crf](**params)([logits, image])
    return probabilities[0] if single else probabilities
