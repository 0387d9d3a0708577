"""Inputs for checking post-processing without a trained model (kseg/testing.py): colour
segments by k-means, and network-like logits made from them, reproducible by seed."""

import numpy as np

from kseg.testing import colour_segments, realistic_unary


def test_colour_segments_split_an_image_by_colour():
    image = np.zeros((4, 6, 3), np.uint8)
    image[:, 3:] = 200
    segments = colour_segments(image, num_segments=2)
    assert segments.shape == (4, 6) and len(np.unique(segments)) == 2
    assert len(np.unique(segments[:, :3])) == 1 and len(np.unique(segments[:, 3:])) == 1


def test_realistic_unary_is_log_probabilities_mostly_agreeing_with_its_labels():
    image = np.zeros((32, 40, 3), np.uint8)  # four flat regions, as a photo's objects
    image[:16, :20], image[:16, 20:], image[16:, :20], image[16:, 20:] = (200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 220)
    log_probs, labels = realistic_unary(image, num_classes=5, return_labels=True, seed=3)
    assert log_probs.shape == (32, 40, 5) and log_probs.dtype == np.float32 and labels.shape == (32, 40)
    np.testing.assert_allclose(np.exp(log_probs).sum(-1), 1.0, rtol=1e-5)
    agreement = (log_probs.argmax(-1) == labels).mean()
    assert 0.5 < agreement < 1.0  # noisy like a network's output, not the labels themselves
    np.testing.assert_array_equal(realistic_unary(image, num_classes=5, seed=3), log_probs)
