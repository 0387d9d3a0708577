"""A held-out dataset for the default preset: what it learns on data it was never tuned on.

The built-in dataset's classes are synthetic textures (stripes, checker, dots, speckle). This
set is built differently on purpose: six classes of *real* textures (crops of scikit-image's
bundled texture photographs: brick, grass, gravel, coins, text, cells), tinted in colours
and pasted at scales the built-in set does not use, as ellipses and polygons onto real
photographs, in pictures of varying size and aspect. It is written in the VOC layout, so
a run reads it the way a user's own data is read:

    python benchmarks/heldout_dataset.py /tmp/heldout
    python -m training.fit --run-dir runs/heldout --set data.format=voc --set data.root=/tmp/heldout \\
        --set "data.class_names=[background,brick,grass,gravel,coins,text,cells]"

Textures for training come from the top half of each texture photograph and those for
validation from the bottom half; the background photographs of the two splits differ too.
"""

import argparse
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kseg.data.builtin import save_voc_pair  # noqa: E402
from kseg.data.synthetic import photo  # noqa: E402

CLASSES = ("background", "brick", "grass", "gravel", "coins", "text", "cells")
TEXTURE_FILES = ("brick.png", "grass.png", "gravel.png", "coins.png", "text.png", "cell.png")
BACKGROUNDS = {
    "train": ("astronaut.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "ihc.png"),
    "val": ("chelsea.png", "hubble_deep_field.jpg", "retina.jpg"),
}
SPLITS = {"train": 480, "val": 120}


def _texture_source(name, split):
    """The top (train) or bottom (val) half of texture photograph `name`, grey in [0, 1]."""
    grey = photo(name).mean(-1) / 255.0
    half = grey.shape[0] // 2
    return grey[:half] if split == "train" else grey[half:]


def _texture_patch(rng, name, split, height, width):
    """(height, width, 3) float RGB: a crop of the texture, rescaled by 0.6-1.6x, tinted between two random colours."""
    source = _texture_source(name, split)
    scale = rng.uniform(0.6, 1.6)
    side_h = min(source.shape[0], max(8, int(height / scale)))
    side_w = min(source.shape[1], max(8, int(width / scale)))
    top, left = rng.randint(source.shape[0] - side_h + 1), rng.randint(source.shape[1] - side_w + 1)
    crop = Image.fromarray((source[top : top + side_h, left : left + side_w] * 255).astype(np.uint8))
    grey = np.asarray(crop.resize((width, height), Image.BILINEAR), np.float32) / 255.0
    dark, light = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)  # some pairs are close: faint textures
    return dark + grey[..., None] * (light - dark)


def _object_mask(rng, height, width):
    """A filled ellipse or polygon covering 8-35% of the picture, as a (height, width) bool."""
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    side = np.sqrt(height * width * rng.uniform(0.08, 0.35))
    cx, cy = rng.uniform(0.15, 0.85) * width, rng.uniform(0.15, 0.85) * height
    if rng.rand() < 0.5:
        rx, ry = side * rng.uniform(0.35, 0.7), side * rng.uniform(0.35, 0.7)
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=1)
    else:
        corners = rng.randint(3, 8)
        angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
        radii = side * rng.uniform(0.3, 0.75, corners)
        draw.polygon([(cx + r * np.cos(a), cy + r * np.sin(a)) for r, a in zip(radii, angles)], fill=1)
    return np.asarray(canvas, bool)


def make_example(rng, split):
    """(image uint8 (H, W, 3), mask uint8 (H, W)): one to three textured objects on a photograph."""
    height, width = (int(rng.uniform(140, 240)), int(rng.uniform(140, 240)))
    source = photo(BACKGROUNDS[split][rng.randint(len(BACKGROUNDS[split]))])
    crop_h = int(min(source.shape[0], height * rng.uniform(1, 2.5)))
    crop_w = int(min(source.shape[1], width * crop_h / height))
    top, left = rng.randint(source.shape[0] - crop_h + 1), rng.randint(source.shape[1] - crop_w + 1)
    crop = Image.fromarray(source[top : top + crop_h, left : left + crop_w].astype(np.uint8))
    image = np.asarray(crop.resize((width, height), Image.BILINEAR), np.float32)
    mask = np.zeros((height, width), np.uint8)
    for _ in range(rng.randint(1, 4)):
        label = rng.randint(1, len(CLASSES))
        inside = _object_mask(rng, height, width)
        image[inside] = _texture_patch(rng, TEXTURE_FILES[label - 1], split, height, width)[inside]
        mask[inside] = label
    picture = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))
    noisy = np.asarray(picture, np.float32) + rng.normal(0, 3, (height, width, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8), mask


def write(root, seed=7):
    """Write the set into `root` (VOC layout) and return it."""
    for sub in ("JPEGImages", "SegmentationClass", os.path.join("ImageSets", "Segmentation")):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    for offset, (split, count) in enumerate(SPLITS.items()):
        rng = np.random.RandomState(seed * 1000 + offset)
        names = []
        for index in range(count):
            image, mask = make_example(rng, split)
            names.append(f"{split}_{index:04d}")
            save_voc_pair(root, names[-1], image, mask)
        with open(os.path.join(root, "ImageSets", "Segmentation", f"{split}.txt"), "w") as f:
            f.write("\n".join(names) + "\n")
    return root


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="an empty or missing folder to write the set into")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    write(args.root, args.seed)
    print(f"wrote {sum(SPLITS.values())} pictures of {len(CLASSES)} classes into {args.root}")


if __name__ == "__main__":
    main()
