"""The labelled pixels of a batch, and the checks the pixel-wise losses share."""

import tensorflow as tf


def check_class_weights(class_weights):
    """None, or the weights as a list of floats >= 0 (not all 0)."""
    if class_weights is None:
        return None
    weights = [float(w) for w in class_weights]
    if not weights or min(weights) < 0 or max(weights) == 0:
        raise ValueError(f"Expected class_weights: one number >= 0 per class, not all 0. Received: class_weights={class_weights!r}")
    return weights


def labelled_pixels(y_true, y_pred, ignore_label):
    """(labels (N,) int32, scores (N, C) float32) of the pixels not labelled `ignore_label`."""
    y_pred = tf.convert_to_tensor(y_pred)
    labels = tf.reshape(tf.cast(y_true, tf.int32), [-1])
    scores = tf.reshape(tf.cast(y_pred, tf.float32), [-1, tf.shape(y_pred)[-1]])
    valid = tf.not_equal(labels, ignore_label)
    return tf.boolean_mask(labels, valid), tf.boolean_mask(scores, valid)


def log_probabilities(scores, from_logits):
    """log softmax of logits, or the log of probabilities (clipped at 1e-7)."""
    if from_logits:
        return tf.nn.log_softmax(scores, axis=-1)
    return tf.math.log(tf.clip_by_value(scores, 1e-7, 1.0))


def per_replica(value):
    """A loss a kseg loss reduced itself over this replica's batch, shared as Keras shares the
    losses it reduces under `tf.distribute`: divided by the number of replicas, whose
    gradients the strategy sums (Keras divides only losses whose `call` returns per-element
    values; one that returns a scalar would otherwise count once per replica)."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return value / replicas if replicas > 1 else value
