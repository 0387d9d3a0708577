"""Inputs for checking segmentation post-processing without a trained model."""

import numpy as np
import tensorflow as tf


def colour_segments(image, num_segments=6, iterations=10, seed=0):
    """Label each pixel of an RGB image `(H, W, 3)` by k-means on its colour; `(H, W)` int."""
    pixels = np.asarray(image, np.float32).reshape(-1, 3)
    rng = np.random.RandomState(seed)
    centres = pixels[rng.choice(len(pixels), num_segments, replace=False)]
    for _ in range(iterations):
        labels = ((pixels[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
        for k in range(num_segments):
            if np.any(labels == k):
                centres[k] = pixels[labels == k].mean(0)
    return labels.reshape(np.shape(image)[:2])


def realistic_unary(image, num_classes=21, stride=8, noise=1.2, confuse=0.12, seed=0, return_labels=False):
    """Logits `(H, W, num_classes)` resembling a segmentation network's on `image`.

    The recipe of the project's CRF reference fixtures: a label map (k-means colour
    segments given random class ids), one-hot and averaged to `stride`, logits
    `5 * onehot + N(0, noise)` with a `confuse` fraction of cells boosted by 4 on a random
    wrong class, upsampled bilinearly (half-pixel centres) back to the image size.
    Returns log-probabilities (log-softmax), float32, and with `return_labels` also the
    label map `(H, W)` they were made from (a ground truth to score refinements against).
    """
    rng = np.random.RandomState(seed)
    segments = colour_segments(image, seed=seed)
    classes = rng.choice(num_classes, size=segments.max() + 1, replace=segments.max() + 1 > num_classes)
    labels = classes[segments]
    h, w = labels.shape
    onehot = np.eye(num_classes, dtype=np.float32)[labels][None]
    coarse = tf.nn.avg_pool2d(onehot, stride, stride, "SAME").numpy()[0]
    logits = 5.0 * coarse + rng.normal(0, noise, coarse.shape)
    cells = rng.rand(*coarse.shape[:2]) < confuse
    wrong = rng.randint(0, num_classes, coarse.shape[:2])
    logits[cells, wrong[cells]] += 4.0
    up = tf.image.resize(logits[None].astype(np.float32), (h, w), method="bilinear").numpy()[0]
    log_probs = tf.nn.log_softmax(up, axis=-1).numpy()
    return (log_probs, labels) if return_labels else log_probs
