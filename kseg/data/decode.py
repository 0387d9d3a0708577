"""Reading one (image, mask) pair with checks that name the offending file."""

import contextlib
import logging
import threading

import numpy as np
import tensorflow as tf
from PIL import Image

from kseg.data.labels import IGNORE_LABEL
from kseg.data.pillow_rgb import rgb_pixels
from kseg.data.records import records_data_error
from kseg.data.sources import DataError
from kseg.serving.exif import TURNED_HINT, pillow_displayed

logger = logging.getLogger("kseg.data")


def read_mask(mask_path, label_table=None):
    """The label ids of the index mask at `mask_path` (H, W), mapped by `label_table`; with
    a `kseg.data.colour_masks.ColourLabels` as `label_table`, the class indices of a colour
    mask. A DataError naming the file for anything else."""
    from kseg.data.colour_masks import ColourLabels

    try:
        with Image.open(mask_path) as im:
            if isinstance(label_table, ColourLabels):
                if im.mode not in ("RGB", "RGBA", "P"):
                    raise DataError(f"{mask_path}: data.mask_colours reads colour masks (RGB); this one has mode {im.mode}")
                return label_table.labels(np.asarray(im.convert("RGB")), mask_path)
            if im.mode not in ("P", "L", "I", "I;16"):
                raise DataError(
                    f"{mask_path}: a mask must be a single-channel index image (palette or grey PNG); "
                    f"this one has mode {im.mode} (colour-coded classes: --set data.mask_colours=true, "
                    f"with data.palette giving each class's colour)"
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
    return mask


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
            shown = pillow_displayed(im)
            image, turned = rgb_pixels(shown), shown is not im
    except (OSError, ValueError, SyntaxError) as error:
        raise DataError(f"{image_path}: cannot read the image ({error})") from error
    mask = read_mask(mask_path, label_table)
    if mask.shape != image.shape[:2]:
        hint = TURNED_HINT if turned else ""
        raise DataError(
            f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} but its image {image_path} is "
            f"{image.shape[1]}x{image.shape[0]}{hint}"
        )
    bad = np.unique(mask[(mask >= num_classes) & (mask != IGNORE_LABEL)])
    if bad.size:
        raise DataError(
            f"{mask_path}: label values {bad.tolist()[:10]} are >= num_classes={num_classes} "
            f"and not the ignore label {IGNORE_LABEL}"
        )
    return image, mask.astype(np.uint8)


class BadExamples:
    """What `skip_bad_examples` skipped in one split, and when to stop skipping.

    Each bad file is logged once (a repeated training stream meets it every epoch). A
    `DataError` stops the pipeline when every example of the split is bad or when more than
    `max_fraction` of them are, so a split of broken files cannot loop forever.

    Args:
        total: int. Number of (image, mask) pairs in the split.
        split: str. The split's name, for messages.
        max_fraction: float in [0, 1]. Share of bad pairs tolerated. Defaults to 0.1.
    """

    def __init__(self, total, split, max_fraction=0.1):
        if not 0.0 <= float(max_fraction) <= 1.0:
            raise ValueError(f"Expected max_fraction in [0, 1]. Received: max_fraction={max_fraction!r}")
        self.total, self.split, self.max_fraction = int(total), split, float(max_fraction)
        self.errors = {}  # image path -> message
        self.fatal = None
        self._lock = threading.Lock()

    def record(self, key, error):
        """Record a bad pair; returns True once the split has too many (the stream must
        stop: `fatal` holds the `DataError` saying why, `named_data_errors` raises it)."""
        with self._lock:
            if self.fatal is not None:
                return True
            if key in self.errors:
                return False
            self.errors[key] = str(error)
            count = len(self.errors)
            if count >= self.total:
                self.fatal = DataError(f"{self.split}: all {self.total} examples are bad (the last: {error})")
            elif count > self.max_fraction * self.total:
                self.fatal = DataError(
                    f"{self.split}: {count} of {self.total} examples are bad, more than data.max_bad_fraction="
                    f"{self.max_fraction:g} allows (the last: {error})"
                )
        logger.warning("skipping bad example (%d so far in %s): %s", count, self.split, error)
        if self.fatal is not None:
            _raised.append(self.fatal)
            logger.error("%s", self.fatal)
            return True
        return False

    def summary(self):
        return f"skipped {len(self.errors)} of {self.total} examples of {self.split}"


_raised = []  # DataErrors met inside tf.data, oldest first (see `named_data_errors`)


def pending_data_error():
    """The first `DataError` a pipeline met since `named_data_errors` was entered, or None."""
    return _raised[0] if _raised else None


@contextlib.contextmanager
def named_data_errors():
    """Report a `DataError` met inside a tf.data pipeline as that one-line `DataError` (the
    file and the reason): raised from the TensorFlow error it caused, or, when a
    `BadExamples` limit ended the stream early, at the end of the block."""
    del _raised[:]
    try:
        yield
    except tf.errors.OpError as op_error:
        error = pending_data_error() or records_data_error(op_error)
        if error is None:
            raise
        del _raised[:]
        raise error from None
    error = pending_data_error()
    if error is not None:
        del _raised[:]
        raise error


def read_pair_op(image_path, mask_path, num_classes, label_table=None, skip_bad_examples=False):
    """tf.data version of `read_pair`: returns (image, mask, ok, stop) tensors.

    `skip_bad_examples`: False (a `DataError` stops the pipeline with its message), or a
    `BadExamples` of the split: a bad pair is recorded (and logged once) and returned with
    ok=False so the pipeline can drop it; stop=True once the split has too many bad pairs
    (the pipeline ends there and `named_data_errors` raises the reason). Ending the stream
    instead of failing the op keeps an endless training stream from stalling on the error.
    """

    def load(image_path, mask_path):
        image_path, mask_path = image_path.decode(), mask_path.decode()
        try:
            image, mask = read_pair(image_path, mask_path, num_classes, label_table)
            return image, mask, True, False
        except DataError as error:
            if not skip_bad_examples:
                _raised.append(error)
                raise
            stop = skip_bad_examples.record(image_path, error)
            return np.zeros((1, 1, 3), np.uint8), np.zeros((1, 1), np.uint8), False, stop

    image, mask, ok, stop = tf.numpy_function(
        load, [image_path, mask_path], [tf.uint8, tf.uint8, tf.bool, tf.bool], stateful=False
    )
    image.set_shape([None, None, 3])
    mask.set_shape([None, None])
    ok.set_shape([])
    stop.set_shape([])
    return image, mask, ok, stop
