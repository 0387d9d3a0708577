"""Streaming confusion matrix: mIoU, per-class IoU, pixel accuracy, mean class accuracy."""

import keras
import numpy as np
import tensorflow as tf

from kseg.constants import IGNORE_LABEL
from kseg.layers.resize import subsample_labels


@keras.saving.register_keras_serializable(package="kseg")
class ConfusionMatrixMetric(keras.metrics.Metric):
    """Confusion matrix accumulated over every pixel seen, and the scores computed from it.

    Counts are summed over all batches (float64, exact up to 2**53 pixels) and the
    scores computed once from the totals, never averaged per batch, as the VOC and
    Cityscapes protocols require. Pixels labelled `ignore_label` are excluded. A class
    that appears neither in the labels nor in the predictions has no IoU (NaN in
    `per_class_iou`) and is left out of the mean, like the official VOC code.

    `result()` is the mean IoU, so the metric can be passed to `model.compile`;
    `scores()` returns everything.

    Args:
        num_classes: int >= 2.
        ignore_label: int. Defaults to 255.
        from_logits: bool. Whether y_pred holds scores `(batch, H, W, num_classes)`
            (argmax is taken) rather than labels `(batch, H, W)`. Defaults to True.
        subsample_labels: bool. Compare predictions at a lower resolution than the labels
            (a stride-8 training output) with the labels subsampled to it by
            `kseg.layers.resize.subsample_labels` (DeepLab v2 §4). Defaults to False.

    Example:
    >>> metric = ConfusionMatrixMetric(num_classes=21)
    >>> metric.update_state(labels, logits)
    >>> metric.scores()["mean_iou"]
    """

    def __init__(
        self, num_classes, ignore_label=IGNORE_LABEL, from_logits=True, subsample_labels=False, name="mean_iou", **kwargs
    ):
        super().__init__(name=name, **kwargs)
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"Expected an integer num_classes >= 2. Received: num_classes={num_classes!r}")
        self.num_classes = num_classes
        self.ignore_label = int(ignore_label)
        self.from_logits = bool(from_logits)
        self.subsample_labels = bool(subsample_labels)
        self.confusion = self.add_variable(
            shape=(num_classes, num_classes), initializer="zeros", dtype="float64", name="confusion"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = tf.convert_to_tensor(y_pred)
        if self.from_logits:
            y_pred = tf.argmax(y_pred, axis=-1, output_type=tf.int32)
        if self.subsample_labels:
            y_true = subsample_labels(y_true, tf.shape(y_pred)[1:3])
        labels = tf.reshape(tf.cast(y_true, tf.int32), [-1])
        preds = tf.reshape(tf.cast(y_pred, tf.int32), [-1])
        valid = tf.not_equal(labels, self.ignore_label)
        checks = [
            tf.debugging.assert_less(
                tf.where(valid, labels, 0),
                self.num_classes,
                message=f"label values must be < num_classes={self.num_classes} or be the ignore label",
            ),
            tf.debugging.assert_non_negative(labels, message="label values must be >= 0"),
        ]
        # A weighted segment sum over a fixed number of cells, not bincount of a boolean
        # mask: static shapes, so the metric compiles under XLA (train.jit_compile).
        with tf.control_dependencies(checks):
            counts = tf.math.unsorted_segment_sum(
                tf.cast(valid, tf.float64), tf.where(valid, labels * self.num_classes + preds, 0), self.num_classes**2
            )
        self.confusion.assign_add(tf.reshape(counts, (self.num_classes, self.num_classes)))

    def _iou(self):
        cm = tf.convert_to_tensor(self.confusion)
        true_positive = tf.linalg.diag_part(cm)
        union = tf.reduce_sum(cm, 0) + tf.reduce_sum(cm, 1) - true_positive
        return tf.math.divide_no_nan(true_positive, union), union > 0

    def result(self):
        iou, present = self._iou()
        return tf.cast(
            tf.reduce_sum(tf.where(present, iou, 0.0)) / tf.maximum(tf.reduce_sum(tf.cast(present, tf.float64)), 1.0),
            tf.float32,
        )

    def scores(self):
        """Dict of NumPy values: mean_iou and per_class_iou (TP / (TP + FP + FN)), mean_dice and
        per_class_dice (the F1 score, 2 TP / (2 TP + FP + FN), as mmsegmentation's mDice), each
        NaN for a class neither labelled nor predicted and left out of its mean; pixel_accuracy;
        mean_accuracy and per_class_accuracy (TP / labelled, over classes present in the
        labels); confusion (labels x predictions)."""
        cm = np.asarray(keras.ops.convert_to_numpy(self.confusion), dtype=np.float64)
        tp = np.diag(cm)
        union = cm.sum(0) + cm.sum(1) - tp
        labelled = cm.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = np.where(union > 0, tp / union, np.nan)
            dice = np.where(union > 0, 2 * tp / (union + tp), np.nan)
            accuracy = np.where(labelled > 0, tp / labelled, np.nan)
        total = cm.sum()
        return {
            "mean_iou": float(np.nanmean(iou)) if np.any(union > 0) else 0.0,
            "per_class_iou": iou,
            "mean_dice": float(np.nanmean(dice)) if np.any(union > 0) else 0.0,
            "per_class_dice": dice,
            "pixel_accuracy": float(tp.sum() / total) if total else 0.0,
            "mean_accuracy": float(np.nanmean(accuracy)) if np.any(labelled > 0) else 0.0,
            "per_class_accuracy": accuracy,
            "confusion": cm,
        }

    def reset_state(self):
        self.confusion.assign(tf.zeros_like(self.confusion))

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "ignore_label": self.ignore_label,
            "from_logits": self.from_logits,
            "subsample_labels": self.subsample_labels,
        }
