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


# Cityscapes train-id colours (cityscapesScripts, helpers/labels.py); 255 is black.
_CITYSCAPES_COLOURS = (
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153), (153, 153, 153),
    (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
    (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
)


def cityscapes_palette():
    """(256, 3) uint8: the 19 Cityscapes train-id colours, black elsewhere."""
    palette = np.zeros((256, 3), np.uint8)
    palette[: len(_CITYSCAPES_COLOURS)] = _CITYSCAPES_COLOURS
    return palette


def confusion_matrix_image(confusion, cell=24):
    """Row-normalised confusion matrix `(C, C)` as a white-to-blue RGB picture, uint8.

    Rows are ground-truth classes, columns predictions; a perfect model is a blue diagonal.
    """
    confusion = np.asarray(confusion, np.float64)
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"Expected a square confusion matrix. Received shape {confusion.shape}")
    rows = confusion.sum(1, keepdims=True)
    normalised = np.divide(confusion, rows, out=np.zeros_like(confusion), where=rows > 0)
    white, blue = np.array([255.0, 255.0, 255.0]), np.array([8.0, 48.0, 107.0])
    colours = white + normalised[..., None] * (blue - white)
    return np.kron(colours, np.ones((cell, cell, 1))).astype(np.uint8)
