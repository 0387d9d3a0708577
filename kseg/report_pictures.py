"""Pictures for evaluation reports that a person can read: a labelled confusion matrix and
image | ground truth | prediction | errors panels with a legend of the classes. PIL only.
"""

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from kseg.constants import IGNORE_LABEL
from kseg.visualize import colorize, confusion_matrix_image

FONT_SIZE = 14
ERROR_RGB = (230, 30, 30)
IGNORED_RGB = (255, 255, 255)


def _font():
    return ImageFont.load_default(size=FONT_SIZE)


def _text_width(font, text):
    return int(font.getlength(text))


def confusion_figure(confusion, class_names, title=None):
    """(H, W, 3) uint8: the row-normalised confusion matrix `(C, C)` (rows ground truth,
    columns predictions) with the class names on both axes, each cell's value, and `title`
    (by default the mIoU computed from `confusion`) above."""
    confusion = np.asarray(confusion, np.float64)
    count = confusion.shape[0]
    if len(class_names) != count:
        raise ValueError(f"Expected {count} class names for a {count}x{count} confusion matrix. Received {len(class_names)}")
    if title is None:
        true_positive = np.diag(confusion)
        union = confusion.sum(0) + confusion.sum(1) - true_positive
        present = union > 0
        title = f"mIoU {100 * np.mean(true_positive[present] / union[present]):.2f}%" if present.any() else "no pixels"
    font = _font()
    cell = max(40, FONT_SIZE * 3)
    names = [str(name) for name in class_names]
    left = max(_text_width(font, name) for name in names) + 12
    top = max(_text_width(font, name) for name in names) + 2 * FONT_SIZE + 16
    heat = confusion_matrix_image(confusion, cell=cell)
    footer = "rows: ground truth, columns: prediction"
    width = max(left + count * cell, left + _text_width(font, footer), _text_width(font, title) + 8) + 8
    canvas = Image.new("RGB", (width, top + count * cell + FONT_SIZE + 16), "white")
    canvas.paste(Image.fromarray(heat), (left, top))
    draw = ImageDraw.Draw(canvas)
    draw.text((8, 6), title, fill="black", font=font)
    rows = confusion.sum(1, keepdims=True)
    normalised = np.divide(confusion, rows, out=np.zeros_like(confusion), where=rows > 0)
    for i, name in enumerate(names):
        draw.text((left - 6, top + i * cell + cell // 2), name, fill="black", font=font, anchor="rm")
        label = Image.new("RGB", (_text_width(font, name) + 4, FONT_SIZE + 4), "white")
        ImageDraw.Draw(label).text((2, 0), name, fill="black", font=font)
        rotated = label.rotate(90, expand=True)
        canvas.paste(rotated, (left + i * cell + (cell - rotated.width) // 2, top - rotated.height - 4))
        for j in range(count):
            value = normalised[i, j]
            colour = "white" if value > 0.5 else "black"
            centre = (left + j * cell + cell // 2, top + i * cell + cell // 2)
            draw.text(centre, f"{value:.2f}", fill=colour, font=font, anchor="mm")
    draw.text((left, top + count * cell + 6), footer, fill="black", font=font)
    return np.asarray(canvas)


def _legend(class_names, palette, width):
    font = _font()
    swatch, gap, line = FONT_SIZE, 12, FONT_SIZE + 8
    entries = [(name, tuple(int(v) for v in palette[i])) for i, name in enumerate(class_names)]
    entries += [("error", ERROR_RGB), ("ignored", IGNORED_RGB)]
    x, y, placed = 4, 4, []
    for name, colour in entries:
        advance = swatch + 4 + _text_width(font, name) + gap
        if x + advance > width and x > 4:
            x, y = 4, y + line
        placed.append((x, y, name, colour))
        x += advance
    legend = Image.new("RGB", (width, y + line), "white")
    draw = ImageDraw.Draw(legend)
    for x, y, name, colour in placed:
        draw.rectangle((x, y + 2, x + swatch, y + 2 + swatch), fill=colour, outline="black")
        draw.text((x + swatch + 4, y), name, fill="black", font=font)
    return np.asarray(legend)


def prediction_panel(image, truth, prediction, class_names, palette, ignore_label=IGNORE_LABEL):
    """(H', 4W + 12, 3) uint8: image | ground truth | prediction | errors side by side (errors:
    the image greyed with wrong pixels in red, unlabelled ones white), a legend of the classes below.

    Args:
        image: (H, W, 3) RGB in [0, 255]. truth, prediction: (H, W) integer labels;
            `ignore_label` in `truth` marks unlabelled pixels.
        class_names: the C names; palette: (>= C, 3) colours of the labels.
    """
    image = np.asarray(image).astype(np.uint8)
    truth, prediction = np.asarray(truth), np.asarray(prediction)
    palette = np.asarray(palette)
    ignored = truth == ignore_label
    truth_rgb = colorize(np.where(ignored, 0, truth).astype(np.uint8), palette)
    truth_rgb[ignored] = IGNORED_RGB
    grey = np.repeat(image.mean(-1, keepdims=True), 3, axis=-1) * 0.5 + 64
    errors = grey.astype(np.uint8)
    errors[(prediction != truth) & ~ignored] = ERROR_RGB
    errors[ignored] = IGNORED_RGB
    spacer = np.full((image.shape[0], 4, 3), 255, np.uint8)
    row = np.concatenate([image, spacer, truth_rgb, spacer, colorize(prediction.astype(np.uint8), palette), spacer, errors], 1)
    return np.concatenate([row, _legend(class_names, palette, row.shape[1])], 0)
