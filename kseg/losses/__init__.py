"""Segmentation losses: masked cross-entropy, OHEM (RelationNet eq. 3), focal
(`kseg.losses.focal`), Dice, Tversky and Lovász-softmax (`kseg.losses.overlap`), weighted
sums of them (`kseg.losses.combined`), and the adversarial confidence-map losses of Seg-GAN
and SS-GAN."""

import keras
import tensorflow as tf

from kseg.constants import IGNORE_LABEL
from kseg.layers.resize import subsample_labels
from kseg.losses.combined import WeightedSumLoss, parse_loss_expression  # noqa: F401
from kseg.losses.pixels import check_class_weights, labelled_pixels, log_probabilities, per_replica
from kseg.losses.focal import FocalLoss  # noqa: F401
from kseg.losses.overlap import DiceLoss, LovaszSoftmaxLoss, TverskyLoss  # noqa: F401

__all__ = [
    "confidence_map_loss",
    "DiceLoss",
    "FocalLoss",
    "LovaszSoftmaxLoss",
    "MaskedSparseCategoricalCrossentropy",
    "OHEMCrossEntropy",
    "parse_loss_expression",
    "SpatialCorrelationLoss",
    "SubsampledLabelsLoss",
    "TverskyLoss",
    "WeightedSumLoss",
]


@keras.saving.register_keras_serializable(package="kseg")
class MaskedSparseCategoricalCrossentropy(keras.losses.SparseCategoricalCrossentropy):
    """Pixel-wise cross-entropy averaged over the labelled pixels of the batch.

    Pixels labelled `ignore_label` contribute nothing and are not counted, i.e.
    `sum_valid CE / num_valid` as in DeepLab (§4, "except for unlabeled pixels which are
    ignored"). A thin subclass of Keras' `SparseCategoricalCrossentropy(ignore_class=...)`
    with the segmentation defaults.

    With `class_weights` the mean is weighted by each pixel's class,
    `sum_i w[y_i] CE_i / sum_i w[y_i]` over the labelled pixels (PyTorch's weighted-mean
    convention for `CrossEntropyLoss(weight=...)`). With `label_smoothing` e the target of
    a pixel is `(1 - e) onehot(y) + e / C` (Szegedy et al. 2016, §7; Keras's and PyTorch's
    convention), i.e. `CE_i = (1 - e) (-log p_y) + e mean_c(-log p_c)`.

    Args:
        ignore_label: int. Label of pixels to leave out. Defaults to 255.
        from_logits: bool. Defaults to True (kseg models output logits).
        class_weights: None or one float >= 0 per class. Defaults to None.
        label_smoothing: float in [0, 1). Defaults to 0.

    Call arguments: y_true `(batch, H, W)` or `(batch, H, W, 1)` integer labels; y_pred
    `(batch, H, W, num_classes)`.
    """

    def __init__(
        self, ignore_label=IGNORE_LABEL, from_logits=True, class_weights=None, label_smoothing=0.0,
        name="masked_sparse_categorical_crossentropy", **kwargs,
    ):
        kwargs.pop("ignore_class", None)
        super().__init__(from_logits=from_logits, ignore_class=int(ignore_label), name=name, **kwargs)
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ValueError(f"Expected label_smoothing in [0, 1). Received: label_smoothing={label_smoothing!r}")
        self.ignore_label = int(ignore_label)
        self.class_weights = check_class_weights(class_weights)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        if self.class_weights is None and not self.label_smoothing:
            return super().call(y_true, y_pred)
        labels, scores = labelled_pixels(y_true, y_pred, self.ignore_label)
        log_probs = log_probabilities(scores, self.from_logits)
        per_pixel = -tf.gather(log_probs, labels, axis=1, batch_dims=1)
        if self.label_smoothing:
            per_pixel = (1.0 - self.label_smoothing) * per_pixel - self.label_smoothing * tf.reduce_mean(log_probs, axis=-1)
        if self.class_weights is None:
            return per_replica(tf.math.divide_no_nan(tf.reduce_sum(per_pixel), tf.cast(tf.size(labels), tf.float32)))
        weights = tf.gather(tf.constant(self.class_weights, tf.float32), labels)
        return per_replica(tf.reduce_sum(weights * per_pixel) / tf.maximum(tf.reduce_sum(weights), 1e-12))

    def get_config(self):
        config = super().get_config()
        config.pop("ignore_class", None)
        config.pop("axis", None)
        return {
            **config, "ignore_label": self.ignore_label, "class_weights": self.class_weights,
            "label_smoothing": self.label_smoothing,
        }


@keras.saving.register_keras_serializable(package="kseg")
class OHEMCrossEntropy(keras.losses.Loss):
    """Online hard example mining cross-entropy (RelationNet eq. 3).

    Averages `-log p_true` over the pixels whose true-class probability is below
    `threshold` (t = 0.6 in the paper). So that an easy batch still trains, at least
    `min_kept` labelled pixels are kept: when fewer than `min_kept` fall below the
    threshold, the `min_kept` pixels with the lowest true-class probability are used.
    Pixels labelled `ignore_label` are never kept. The loss is a mean over the kept
    pixels of the whole batch.

    With `class_weights` the mean over the kept pixels is weighted by class,
    `sum_kept w[y_i] CE_i / sum_kept w[y_i]`.

    Args:
        threshold: float in (0, 1]. Defaults to 0.6.
        min_kept: int >= 0. Floor on the number of kept pixels per batch. Defaults to
            100000 (the value common OHEM implementations use for 8 Cityscapes crops).
        ignore_label: int. Defaults to 255.
        from_logits: bool. Defaults to True.
        class_weights: None or one float >= 0 per class. Defaults to None.

    Call arguments: y_true `(batch, H, W)` or `(batch, H, W, 1)`; y_pred
    `(batch, H, W, num_classes)`. Returns a scalar.
    """

    def __init__(
        self, threshold=0.6, min_kept=100000, ignore_label=IGNORE_LABEL, from_logits=True, class_weights=None,
        name="ohem_cross_entropy", **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if not 0.0 < float(threshold) <= 1.0:
            raise ValueError(f"Expected 0 < threshold <= 1. Received: threshold={threshold}")
        if int(min_kept) < 0:
            raise ValueError(f"Expected min_kept >= 0. Received: min_kept={min_kept}")
        self.threshold = float(threshold)
        self.min_kept = int(min_kept)
        self.ignore_label = int(ignore_label)
        self.from_logits = bool(from_logits)
        self.class_weights = check_class_weights(class_weights)

    def call(self, y_true, y_pred):
        labels, scores = labelled_pixels(y_true, y_pred, self.ignore_label)
        log_probs = log_probabilities(scores, self.from_logits)
        true_log_prob = tf.gather(log_probs, labels, axis=1, batch_dims=1)
        true_prob = tf.exp(true_log_prob)
        keep = true_prob < self.threshold
        count = tf.size(true_prob)
        k = tf.minimum(self.min_kept, count)
        # The k-th smallest true-class probability; pixels at or below it are kept too.
        kth = tf.cond(
            k > 0,
            lambda: -tf.math.top_k(-true_prob, k=k, sorted=True).values[k - 1],
            lambda: tf.constant(-1.0, tf.float32),
        )
        keep = tf.logical_or(keep, true_prob <= kth)
        kept = tf.cast(keep, tf.float32)
        if self.class_weights is not None:
            kept = kept * tf.gather(tf.constant(self.class_weights, tf.float32), labels)
            return per_replica(-tf.reduce_sum(true_log_prob * kept) / tf.maximum(tf.reduce_sum(kept), 1e-12))
        return per_replica(-tf.reduce_sum(true_log_prob * kept) / tf.maximum(tf.reduce_sum(kept), 1.0))

    def get_config(self):
        return {
            **super().get_config(),
            "threshold": self.threshold,
            "min_kept": self.min_kept,
            "ignore_label": self.ignore_label,
            "from_logits": self.from_logits,
            "class_weights": self.class_weights,
        }


@keras.saving.register_keras_serializable(package="kseg")
class SubsampledLabelsLoss(keras.losses.Loss):
    """A segmentation loss on predictions at a lower resolution than the labels: `loss`
    against the labels subsampled to the prediction's size by nearest neighbour
    (`kseg.layers.resize.subsample_labels`), instead of upsampling the logits. DeepLab
    v2 §4 trains this way: "the ground truth labels ... subsampled by 8 during training".

    Args:
        loss: a Keras loss (or its serialized config) taking `(labels, logits)` at one
            resolution, e.g. `MaskedSparseCategoricalCrossentropy()`.

    Call arguments: y_true `(batch, H, W)` or `(batch, H, W, 1)` integer labels; y_pred
    `(batch, h, w, num_classes)` with h <= H, w <= W. Returns the inner loss's scalar.
    """

    def __init__(self, loss, name=None, **kwargs):
        loss = keras.losses.get(loss) if isinstance(loss, dict) else loss
        if not callable(loss):
            raise ValueError(f"Expected a Keras loss. Received: loss={loss!r}")
        super().__init__(name=name or f"subsampled_{getattr(loss, 'name', 'loss')}", **kwargs)
        self.loss = loss

    def call(self, y_true, y_pred):
        return self.loss(subsample_labels(y_true, tf.shape(y_pred)[1:3]), y_pred)

    def get_config(self):
        return {**super().get_config(), "loss": keras.saving.serialize_keras_object(self.loss)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["loss"] = keras.saving.deserialize_keras_object(config["loss"])
        return cls(**config)


def confidence_map_loss(logits, target, weights, focal_gamma=0.0):
    """Binary cross-entropy of a discriminator's confidence map against a constant target
    (Seg-GAN eq. 1 / eq. 4, SS-GAN eq. 3-6), a weighted mean over the map's cells.

    Args:
        logits: (B, h, w, 1) float, the discriminator's pre-sigmoid output; D(.) = sigmoid(logits).
        target: 1.0 ("ground truth") or 0.0 ("segmentation network output").
        weights: (B, h, w, 1) float in [0, 1], the share of labelled (not ignored) pixels
            each cell sees; cells with weight 0 contribute nothing.
        focal_gamma: float >= 0. With gamma > 0 each cell's term is multiplied by
            (1 - p_t)^gamma (focal loss, Lin et al. 2017), p_t the probability D gives to
            the target. Defaults to 0 (plain binary cross-entropy).

    Returns:
        Scalar float32: sum(weights * bce) / sum(weights).
    """
    logits = tf.cast(logits, tf.float32)
    labels = tf.fill(tf.shape(logits), tf.cast(target, tf.float32))
    bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    if focal_gamma:
        p_t = tf.exp(-bce)  # probability of the target under D
        bce = bce * tf.pow(1.0 - p_t, float(focal_gamma))
    weights = tf.cast(weights, tf.float32)
    return tf.reduce_sum(bce * weights) / tf.maximum(tf.reduce_sum(weights), 1e-6)


def _neighbour_pairs(labels, ignore_label):
    """Labels (B, H, W) int -> (same (B, H, W, 9) float, valid (B, H, W, 9) float) for the 9
    neighbours of `kseg.layers.relation.NEIGHBOUR_OFFSETS`; a pair is valid when both labels
    are known (not `ignore_label`, not beyond the border)."""
    from kseg.layers.relation import NEIGHBOUR_OFFSETS, shift_map

    labels = tf.cast(labels, tf.int32)
    neighbours = tf.stack([shift_map(labels, dh, dw, fill=ignore_label) for dh, dw in NEIGHBOUR_OFFSETS], axis=-1)
    centre = labels[..., None]
    valid = tf.logical_and(centre != ignore_label, neighbours != ignore_label)
    return tf.cast(tf.equal(centre, neighbours), tf.float32), tf.cast(valid, tf.float32)


@keras.saving.register_keras_serializable(package="kseg")
class SpatialCorrelationLoss(keras.losses.Loss):
    """RelationNet's Spatial Correlation Loss (Zhuang et al., eq. 4-6).

    For every position and each of its 9 neighbours (dh, dw in {-1, 0, 1}, itself
    included) the similarity subnet predicts P(same label). The target is whether the two
    labels agree; each pair's term is `beta * log P` when they agree and
    `alpha * log(1 - P)` when they differ, with `alpha` = share of agreeing pairs and
    `beta` = share of differing pairs (eq. 5: the rarer kind weighs more), counted over
    the batch. The loss is minus the sum over pairs divided by the number of pairs (eq. 6's
    N = W H |dw| |dh|); pairs where either label is ignored or beyond the border are left
    out of the sum, the counts and N.

    Labels are taken at the prediction's resolution: `y_true` is resized to it with
    nearest neighbour when the sizes differ (the subnet runs at output stride 8).

    Args:
        ignore_label: int. Defaults to 255.

    Call arguments: `y_true` (B, H, W) int labels, `y_pred` (B, h, w, 9) logits.
    """

    def __init__(self, ignore_label=IGNORE_LABEL, name="spatial_correlation_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.ignore_label = int(ignore_label)

    def call(self, y_true, y_pred):
        logits = tf.cast(y_pred, tf.float32)
        labels = tf.cast(y_true, tf.int32)
        size = tf.shape(logits)[1:3]
        labels = tf.cond(
            tf.reduce_all(tf.equal(tf.shape(labels)[1:3], size)),
            lambda: labels,
            lambda: tf.cast(tf.image.resize(labels[..., None], size, method="nearest")[..., 0], tf.int32),
        )
        same, valid = _neighbour_pairs(labels, self.ignore_label)
        positives = tf.reduce_sum(same * valid)
        negatives = tf.reduce_sum((1.0 - same) * valid)
        total = tf.maximum(positives + negatives, 1.0)
        alpha, beta = positives / total, negatives / total
        log_p = tf.math.log_sigmoid(logits)
        log_not_p = tf.math.log_sigmoid(-logits)
        terms = same * beta * log_p + (1.0 - same) * alpha * log_not_p
        return per_replica(-tf.reduce_sum(terms * valid) / total)

    def get_config(self):
        return {**super().get_config(), "ignore_label": self.ignore_label}

