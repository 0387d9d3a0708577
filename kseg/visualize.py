"""Palettes and colourised label maps."""

import numpy as np


def voc_palette(num_colors=256):
    """The PASCAL VOC colour map (bit-interleaved), `(num_colors, 3)` uint8; index 255 is the ignore colour."""
    palette = np.zeros((num_colors, 3), dtype=np.uint8)
    for index in range(num_colors):
        value, r, g, b = index, 0, 0, 0
        for bit in range(8):
            r |= ((value >> 0) & 1) << (7 - bit)
            g |= ((value >> 1) & 1) << (7 - bit)
            b |= ((value >> 2) & 1) << (7 - bit)
            value >>= 3
        palette[index] = (r, g, b)
    return palette


def colorize(labels, palette=None):
    """Map an integer label map `(H, W)` to RGB `(H, W, 3)` uint8 with the VOC palette."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"Expected a label map of shape (H, W). Received shape {labels.shape}")
    palette = voc_palette() if palette is None else np.asarray(palette, dtype=np.uint8)
    return palette[np.clip(labels, 0, len(palette) - 1)]


def overlay(image, labels, alpha=0.5, palette=None):
    """Blend a colourised label map over an RGB image, both `(H, W, ...)`; returns uint8."""
    image = np.asarray(image, dtype=np.float32)
    colors = colorize(labels, palette).astype(np.float32)
    if image.shape[:2] != colors.shape[:2]:
        raise ValueError(f"Image {image.shape[:2]} and labels {colors.shape[:2]} differ in size")
    return np.clip((1 - alpha) * image + alpha * colors, 0, 255).astype(np.uint8)
