"""What the pixel-wise losses share (kseg/losses/pixels.py): the labelled pixels of a batch, the
class-weight check, log-probabilities from logits or probabilities, a replica's share."""

import numpy as np
import pytest
import tensorflow as tf

from kseg.losses.pixels import check_class_weights, labelled_pixels, log_probabilities, per_replica


def test_ignored_pixels_are_left_out_in_order():
    labels = np.array([[[0, 255], [2, 1]]])
    scores = np.arange(12, dtype=np.float32).reshape(1, 2, 2, 3)
    kept, rows = labelled_pixels(labels, scores, 255)
    np.testing.assert_array_equal(kept, [0, 2, 1])
    np.testing.assert_array_equal(rows, scores.reshape(4, 3)[[0, 2, 3]])


def test_log_probabilities_from_logits_or_probabilities():
    logits = np.array([[2.0, 0.0, -1.0]], np.float32)
    expected = logits - np.log(np.exp(logits).sum())
    np.testing.assert_allclose(log_probabilities(logits, True), expected, rtol=1e-6)
    np.testing.assert_allclose(log_probabilities(np.exp(expected), False), expected, rtol=1e-5)
    assert float(log_probabilities(np.array([[0.0, 1.0]], np.float32), False)[0, 0]) == pytest.approx(np.log(1e-7))


@pytest.mark.parametrize("weights", [[], [1, -1], [0, 0]])
def test_class_weights_are_numbers_at_least_0_not_all_0(weights):
    assert check_class_weights(None) is None and check_class_weights([1, 0]) == [1.0, 0.0]
    with pytest.raises(ValueError, match="Expected class_weights: one number >= 0 per class, not all 0"):
        check_class_weights(weights)


def test_a_replica_gets_its_share():
    value = tf.constant(6.0)
    assert float(per_replica(value)) == 6.0  # one replica: unchanged
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    assert float(strategy.run(lambda: per_replica(value))) == 6.0
