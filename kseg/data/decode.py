"""Reading one (image, mask) pair with checks that name the offending file."""

import logging

import numpy as np
import tensorflow as tf
from PIL import Image

from kseg.data.labels import IGNORE_LABEL
from kseg.data.sources import DataError

logger = logging.getLogger("kseg.data")


def read_pair(image_path, mask_path, num_classes, label_table=None):
    """Decode an RGB image and its index mask and check them.

    Args:
        image_path, mask_path: str paths.
        num_classes: int; mask values must be < num_classes or the ignore label 255.
        label_table: optional (256,) uint8 table applied to the raw mask values first
            (e.g. Cityscapes labelIds -> train ids).

    Returns:
        image (H, W, 3) uint8, mask (H, W) uint8.

    Raises:
        DataError naming the file: unreadable or truncated image, mask that is not a
        single-channel index image, mask of another size, label values out of range.
    """
    try:
        with Image.open(image_path) as im:
            image = np.asarray(im.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as error:
        raise DataError(f"{image_path}: cannot read the image ({error})") from error
    try:
        with Image.open(mask_path) as im:
            if im.mode not in ("P", "L", "I", "I;16"):
                raise DataError(
                    f"{mask_path}: a mask must be a single-channel index image (palette or grey PNG); "
                    f"this one has mode {im.mode}"
                )
            mask = np.asarray(im)
    except DataError:
        raise
    except (OSError, ValueError, SyntaxError) as error:
        raise DataError(f"{mask_path}: cannot read the mask ({error})") from error
    if label_table is not None:
        if mask.max(initial=0) > 255:
            raise DataError(f"{mask_path}: label ids above 255 cannot be mapped")
        mask = label_table[mask]
    if mask.shape != image.shape[:2]:
        raise DataError(
            f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} but its image {image_path} is "
            f"{image.shape[1]}x{image.shape[0]}"
        )
    bad = np.unique(mask[(mask >= num_classes) & (mask != IGNORE_LABEL)])
    if bad.size:
        raise DataError(
            f"{mask_path}: label values {bad.tolist()[:10]} are >= num_classes={num_classes} "
            f"and not the ignore label {IGNORE_LABEL}"
        )
    return image, mask.astype(np.uint8)


def read_pair_op(image_path, mask_path, num_classes, label_table=None, skip_bad_examples=False):
    """tf.data version of `read_pair`: returns (image, mask, ok) tensors.

    With `skip_bad_examples`, a bad pair is logged (naming the file) and returned with
    ok=False so the pipeline can drop it; otherwise the DataError stops the pipeline with
    its message.
    """

    def load(image_path, mask_path):
        image_path, mask_path = image_path.decode(), mask_path.decode()
        try:
            image, mask = read_pair(image_path, mask_path, num_classes, label_table)
            return image, mask, True
        except DataError as error:
            if not skip_bad_examples:
                raise
            logger.warning("skipping bad example: %s", error)
            return np.zeros((1, 1, 3), np.uint8), np.zeros((1, 1), np.uint8), False

    image, mask, ok = tf.numpy_function(load, [image_path, mask_path], [tf.uint8, tf.uint8, tf.bool], stateful=False)
    image.set_shape([None, None, 3])
    mask.set_shape([None, None])
    ok.set_shape([])
    return image, mask, ok
