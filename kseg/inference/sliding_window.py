"""Sliding-window inference for images larger than the training crop."""

import numpy as np
import tensorflow as tf

from kseg.inference.batch import as_batch
from kseg.layers.preprocessing import IMAGENET_CAFFE_MEAN_RGB as IMAGE_MEAN


def _window_starts(length, window, stride):
    if length <= window:
        return [0]
    starts = list(range(0, length - window, stride)) + [length - window]
    return sorted(set(starts))


def predict_sliding_window(model, image, window, stride, pad_value=IMAGE_MEAN):
    """Inference in overlapping windows for images larger than the training crop
    (Cityscapes 2048x1024 with 512 or 768 windows).

    Windows of `window` = (h, w) are placed every `stride` pixels, the last one flush with
    the border; an image smaller than the window is padded bottom/right with the mean
    colour (what the training pipeline pads with). Logits of overlapping windows are
    averaged.

    Args:
        model: callable mapping (B, h, w, 3) to logits (B, h, w, C).
        image: (H, W, 3) or (B, H, W, 3), RGB 0-255.
        window: int or (h, w).
        stride: int or (h, w), > 0.

    Returns:
        logits (B, H, W, C) or (H, W, C) like the input.
    """
    window = (window, window) if isinstance(window, int) else tuple(window)
    stride = (stride, stride) if isinstance(stride, int) else tuple(stride)
    if min(window) < 1 or min(stride) < 1:
        raise ValueError(f"Expected window and stride >= 1. Received: window={window}, stride={stride}")
    images, single = as_batch(image)
    batch, height, width = (int(d) for d in images.shape[:3])
    pad_h, pad_w = max(window[0] - height, 0), max(window[1] - width, 0)
    if pad_h or pad_w:
        fill = tf.constant(pad_value, tf.float32)
        images = tf.pad(images - fill, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]]) + fill
    full_h, full_w = height + pad_h, width + pad_w
    total, counts = None, np.zeros((full_h, full_w, 1), np.float32)
    for top in _window_starts(full_h, window[0], stride[0]):
        for left in _window_starts(full_w, window[1], stride[1]):
            crop = images[:, top : top + window[0], left : left + window[1]]
            logits = tf.cast(model(crop, training=False), tf.float32).numpy()
            if total is None:
                total = np.zeros((batch, full_h, full_w, logits.shape[-1]), np.float32)
            total[:, top : top + window[0], left : left + window[1]] += logits
            counts[top : top + window[0], left : left + window[1]] += 1
    logits = tf.constant((total / counts)[:, :height, :width])
    return logits[0] if single else logits
