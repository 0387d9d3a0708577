"""Batch handling shared by the test-time procedures."""

import tensorflow as tf


def as_batch(image):
    """(B, H, W, 3) float32 images and whether `image` was a single (H, W, 3) one."""
    image = tf.convert_to_tensor(image)
    if image.shape.rank == 3:
        return tf.cast(image[None], tf.float32), True
    if image.shape.rank == 4:
        return tf.cast(image, tf.float32), False
    raise ValueError(f"Expected an image (H, W, 3) or a batch (B, H, W, 3). Received shape {image.shape}")
