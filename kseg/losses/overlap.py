"""Losses on the overlap of predicted and true regions: Dice, Tversky and Lovász-softmax."""

import keras
import tensorflow as tf

from kseg.constants import IGNORE_LABEL
from kseg.losses.pixels import labelled_pixels, per_replica


def _probabilities_and_targets(y_true, y_pred, ignore_label, from_logits):
    """(probabilities (N, C), one-hot targets (N, C)) of the labelled pixels of the batch."""
    labels, scores = labelled_pixels(y_true, y_pred, ignore_label)
    probabilities = tf.nn.softmax(scores, axis=-1) if from_logits else scores
    return probabilities, tf.one_hot(labels, tf.shape(scores)[-1], dtype=tf.float32)


def _mean_over_present(per_class, targets):
    """Mean of `per_class` (C,) over the classes with a labelled pixel; 0 when there are none."""
    present = tf.cast(tf.reduce_sum(targets, axis=0) > 0, tf.float32)
    return tf.math.divide_no_nan(tf.reduce_sum(per_class * present), tf.reduce_sum(present))


@keras.saving.register_keras_serializable(package="kseg")
class DiceLoss(keras.losses.Loss):
    """Soft Dice loss (Milletari et al. 2016): the mean, over the classes present in the
    batch's labels, of `1 - 2 sum(p t) / (sum p + sum t)`, with the sums over all labelled
    pixels of the batch, `p` the softmax probability of the class and `t` its one-hot target.
    Pixels labelled `ignore_label` are left out. No smoothing term: an absent class is not
    averaged in, a present one always has `sum t > 0`.

    Args:
        ignore_label: int. Defaults to 255.
        from_logits: bool. Defaults to True.

    Call arguments: y_true `(batch, H, W)` int labels; y_pred `(batch, H, W, C)`. Scalar.
    """

    def __init__(self, ignore_label=IGNORE_LABEL, from_logits=True, name="dice_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.ignore_label = int(ignore_label)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        p, t = _probabilities_and_targets(y_true, y_pred, self.ignore_label, self.from_logits)
        overlap = tf.reduce_sum(p * t, axis=0)
        total = tf.reduce_sum(p, axis=0) + tf.reduce_sum(t, axis=0)
        return per_replica(_mean_over_present(1.0 - tf.math.divide_no_nan(2.0 * overlap, total), t))

    def get_config(self):
        return {**super().get_config(), "ignore_label": self.ignore_label, "from_logits": self.from_logits}


@keras.saving.register_keras_serializable(package="kseg")
class TverskyLoss(keras.losses.Loss):
    """Tversky loss (Salehi et al., MLMI 2017, eq. 3): the mean, over the classes present in
    the batch's labels, of `1 - TP / (TP + alpha FP + beta FN)` with soft counts over the
    labelled pixels of the batch (`TP = sum p t`, `FP = sum p (1 - t)`, `FN = sum (1 - p) t`).
    `alpha = beta = 0.5` is the Dice loss; `beta > alpha` weighs missed pixels more, for small
    structures. Pixels labelled `ignore_label` are left out.

    Args:
        alpha: float >= 0. Weight of false positives. Defaults to 0.3 (the paper's best).
        beta: float >= 0. Weight of false negatives. Defaults to 0.7.
        ignore_label: int. Defaults to 255.
        from_logits: bool. Defaults to True.

    Call arguments: y_true `(batch, H, W)` int labels; y_pred `(batch, H, W, C)`. Scalar.
    """

    def __init__(self, alpha=0.3, beta=0.7, ignore_label=IGNORE_LABEL, from_logits=True, name="tversky_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        if float(alpha) < 0 or float(beta) < 0 or float(alpha) + float(beta) == 0:
            raise ValueError(f"Expected alpha, beta >= 0, not both 0. Received: alpha={alpha!r}, beta={beta!r}")
        self.alpha, self.beta = float(alpha), float(beta)
        self.ignore_label = int(ignore_label)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        p, t = _probabilities_and_targets(y_true, y_pred, self.ignore_label, self.from_logits)
        true_positives = tf.reduce_sum(p * t, axis=0)
        false_positives = tf.reduce_sum(p * (1.0 - t), axis=0)
        false_negatives = tf.reduce_sum((1.0 - p) * t, axis=0)
        index = tf.math.divide_no_nan(true_positives, true_positives + self.alpha * false_positives + self.beta * false_negatives)
        return per_replica(_mean_over_present(1.0 - index, t))

    def get_config(self):
        return {
            **super().get_config(), "alpha": self.alpha, "beta": self.beta, "ignore_label": self.ignore_label,
            "from_logits": self.from_logits,
        }


@keras.saving.register_keras_serializable(package="kseg")
class LovaszSoftmaxLoss(keras.losses.Loss):
    """Lovász-softmax loss (Berman et al., CVPR 2018, eq. 12): for each class present in the
    batch's labels, the Lovász extension of the Jaccard loss evaluated at the pixel errors
    `|t - p|`, i.e. the errors sorted in decreasing order dotted with the Jaccard loss's
    increments along that order; the mean over those classes. The batch is one set of pixels
    (the authors' `lovasz_softmax(probas, labels, classes='present', per_image=False,
    ignore=255)`); `ignore_label` pixels are left out; no labelled pixel gives 0.

    Args:
        ignore_label: int. Defaults to 255.
        from_logits: bool. Defaults to True.

    Call arguments: y_true `(batch, H, W)` int labels; y_pred `(batch, H, W, C)`. Scalar.
    Memory: a sort of the (pixels, C) errors per class.
    """

    def __init__(self, ignore_label=IGNORE_LABEL, from_logits=True, name="lovasz_softmax_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.ignore_label = int(ignore_label)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        p, t = _probabilities_and_targets(y_true, y_pred, self.ignore_label, self.from_logits)
        errors, targets = tf.transpose(tf.abs(t - p)), tf.transpose(t)  # (C, N)
        order = tf.argsort(errors, axis=1, direction="DESCENDING")
        errors = tf.gather(errors, order, batch_dims=1)
        targets = tf.gather(targets, order, batch_dims=1)
        foreground = tf.reduce_sum(targets, axis=1, keepdims=True)
        intersection = foreground - tf.cumsum(targets, axis=1)
        union = foreground + tf.cumsum(1.0 - targets, axis=1)
        jaccard = 1.0 - intersection / union  # union >= 1 from the first pixel on
        increments = tf.concat([jaccard[:, :1], jaccard[:, 1:] - jaccard[:, :-1]], axis=1)
        return per_replica(_mean_over_present(tf.reduce_sum(errors * increments, axis=1), t))

    def get_config(self):
        return {**super().get_config(), "ignore_label": self.ignore_label, "from_logits": self.from_logits}
