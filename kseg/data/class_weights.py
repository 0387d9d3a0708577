"""Per-class loss weights from a split's label histogram (`train.class_weights`)."""

import numpy as np
import tensorflow as tf

from kseg.constants import CLASS_WEIGHTINGS, IGNORE_LABEL
from kseg.data.decode import read_mask
from kseg.data.records import FEATURES, RecordsSplit, decode_mask


def _masks(pairs, label_table):
    """The masks of (image, mask) path pairs, or of a `RecordsSplit`'s records, as NumPy arrays."""
    if isinstance(pairs, RecordsSplit):
        records = tf.data.TFRecordDataset(list(pairs.files)).take(len(pairs))
        masks = records.map(lambda r: decode_mask(tf.io.parse_single_example(r, FEATURES)["mask/encoded"]))
        return masks.as_numpy_iterator()
    return (read_mask(mask_path, label_table) for _, mask_path in pairs)


def label_statistics(pairs, num_classes, label_table=None):
    """Pixel counts of the masks of `pairs` ((image, mask) paths, or a `RecordsSplit`).

    Returns:
        (counts (C,), pixels_of_images_with (C,)): labelled pixels of each class, and the
        labelled pixels of the images in which the class appears at all (SegNet's
        denominator). Ignored pixels count in neither.
    """
    counts = np.zeros(num_classes, np.int64)
    with_class = np.zeros(num_classes, np.int64)
    for mask in _masks(pairs, label_table):
        labels = mask[(mask != IGNORE_LABEL) & (mask < num_classes)]
        histogram = np.bincount(labels.ravel(), minlength=num_classes)
        counts += histogram
        with_class[histogram > 0] += labels.size
    return counts, with_class


def class_weights_from_labels(pairs, num_classes, method, label_table=None):
    """Loss weights per class from the labels of `pairs`; classes never labelled get 0.

    - "inverse_frequency": `w_c = N / (K n_c)`, n_c the pixels of class c, N all labelled
      pixels, K the classes present: the pixel-weighted mean weight is 1.
    - "median_frequency" (SegNet, Badrinarayanan et al. 2017, after Eigen & Fergus 2015):
      `w_c = median(f) / f_c`, `f_c` = n_c / the labelled pixels of the images containing c.

    Returns a list of `num_classes` floats.
    """
    if method not in CLASS_WEIGHTINGS:
        raise ValueError(f"Expected method in {CLASS_WEIGHTINGS}. Received: method={method!r}")
    counts, with_class = label_statistics(pairs, num_classes, label_table)
    present = counts > 0
    if not present.any():
        raise ValueError(f"train.class_weights={method}: the training split has no labelled pixel")
    weights = np.zeros(num_classes)
    if method == "inverse_frequency":
        weights[present] = counts.sum() / (present.sum() * counts[present])
    else:
        frequency = counts[present] / with_class[present]
        weights[present] = np.median(frequency) / frequency
    return [round(float(w), 6) for w in weights]
