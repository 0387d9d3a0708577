"""The focal loss: pixel-wise cross-entropy down-weighting the pixels already classified well."""

import keras
import tensorflow as tf

from kseg.constants import IGNORE_LABEL
from kseg.losses.pixels import check_class_weights, labelled_pixels, log_probabilities, per_replica


@keras.saving.register_keras_serializable(package="kseg")
class FocalLoss(keras.losses.Loss):
    """Multi-class focal loss (Lin et al., ICCV 2017, eq. 5 with softmax probabilities):
    `-alpha[y] (1 - p_y)^gamma log p_y` per labelled pixel, `p_y` the softmax probability of
    its true class, averaged over the labelled pixels of the batch. `gamma = 0` and no
    `alpha` is the cross-entropy; larger `gamma` down-weights pixels already classified well.

    Args:
        gamma: float >= 0. The focusing parameter. Defaults to 2.0 (the paper's).
        alpha: None or one float >= 0 per class (the class-balancing weight). Defaults to None.
        ignore_label: int. Pixels left out. Defaults to 255.
        from_logits: bool. Defaults to True.

    Call arguments: y_true `(batch, H, W)` int labels; y_pred `(batch, H, W, C)`. Scalar.
    """

    def __init__(self, gamma=2.0, alpha=None, ignore_label=IGNORE_LABEL, from_logits=True, name="focal_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        if float(gamma) < 0:
            raise ValueError(f"Expected gamma >= 0. Received: gamma={gamma!r}")
        self.gamma = float(gamma)
        self.alpha = check_class_weights(alpha)
        self.ignore_label = int(ignore_label)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        labels, scores = labelled_pixels(y_true, y_pred, self.ignore_label)
        log_p = tf.gather(log_probabilities(scores, self.from_logits), labels, axis=1, batch_dims=1)
        per_pixel = -tf.pow(1.0 - tf.exp(log_p), self.gamma) * log_p
        if self.alpha is not None:
            per_pixel *= tf.gather(tf.constant(self.alpha, tf.float32), labels)
        return per_replica(tf.math.divide_no_nan(tf.reduce_sum(per_pixel), tf.cast(tf.size(labels), tf.float32)))

    def get_config(self):
        return {
            **super().get_config(), "gamma": self.gamma, "alpha": self.alpha, "ignore_label": self.ignore_label,
            "from_logits": self.from_logits,
        }
