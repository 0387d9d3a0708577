"""Per-class weights from the training labels (kseg/data/class_weights.py): inverse frequency,
and SegNet's median frequency over the pixels of the images that hold each class."""

import numpy as np


def test_frequency_weightings_from_the_training_labels(tmp_path):
    from PIL import Image

    from kseg.data import class_weights_from_labels

    masks = [np.zeros((4, 4), np.uint8), np.full((4, 4), 255, np.uint8)]
    masks[0][:1] = 1  # image 0: 12 px of class 0, 4 of class 1
    masks[1][:2] = 2  # image 1: 8 px of class 2, 8 ignored
    pairs = []
    for i, mask in enumerate(masks):
        Image.fromarray(mask).save(tmp_path / f"m{i}.png")
        pairs.append((None, str(tmp_path / f"m{i}.png")))
    inverse = class_weights_from_labels(pairs, 4, "inverse_frequency")
    np.testing.assert_allclose(inverse, [24 / (3 * 12), 24 / (3 * 4), 24 / (3 * 8), 0.0], rtol=1e-5)
    median = class_weights_from_labels(pairs, 4, "median_frequency")
    frequency = np.array([12 / 16, 4 / 16, 8 / 8])  # SegNet: over the pixels of images that contain the class
    np.testing.assert_allclose(median, list(np.median(frequency) / frequency) + [0.0], rtol=1e-5)
