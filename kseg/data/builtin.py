"""The built-in dataset: textured shapes, generated deterministically in the VOC layout.

Five classes: background and four textures (stripes, checker, dots, speckle). Every
region's two colours are drawn from the same distribution whatever its class, and shapes
(disc, ellipse, rectangle, triangle) are assigned to classes at random, so neither colour
nor shape tells the class: a model has to learn texture. The background is a smooth
random field of two random colours. 128x128 images, 256 train and 64 val, written once
(atomically) into a cache folder and reused.

A third split, "coarse", has 256 further images labelled the way Cityscapes' coarse set
is: a band along every region boundary is left unlabelled (255), so the labels keep the
main part of each region and lose its contour. It is there for recipes that mix fine and
coarse annotations (RelationNet's alternating training).
"""

import os
import shutil

import numpy as np
from PIL import Image

from kseg.atomic import make_staging_dir
from kseg.constants import IGNORE_LABEL
from kseg.data.sources import DataError
from kseg.visualize import voc_palette

CLASSES = ("background", "stripes", "checker", "dots", "speckle")
VERSION = "shapes-v3"
SIZE = 128
SPLITS = {"train": 256, "val": 64, "coarse": 256}
COARSE_SPLITS = ("coarse",)
COARSE_BAND = 3  # pixels each side of a boundary left unlabelled in the coarse split


def default_root():
    """`$KSEG_DATA_DIR/shapes-v3`, or `~/.cache/kseg/shapes-v3`."""
    base = os.environ.get("KSEG_DATA_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "kseg")
    return os.path.join(base, VERSION)


def _smooth_field(rng, size, cells):
    coarse = rng.rand(cells + 1, cells + 1).astype(np.float32)
    image = Image.fromarray((coarse * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC)
    return np.asarray(image, np.float32) / 255.0


def _texture(rng, kind, size):
    """A binary-ish pattern in [0, 1] of the given class over the whole canvas."""
    y, x = np.mgrid[:size, :size].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    u = x * np.cos(angle) + y * np.sin(angle)
    v = -x * np.sin(angle) + y * np.cos(angle)
    if kind == 1:  # stripes
        period = rng.uniform(8, 14)
        return (np.sin(2 * np.pi * u / period) > 0).astype(np.float32)
    if kind == 2:  # checker
        cell = rng.uniform(5, 9)
        return ((np.floor(u / cell) + np.floor(v / cell)) % 2).astype(np.float32)
    if kind == 3:  # dots
        period = rng.uniform(9, 14)
        du = (u % period) - period / 2
        dv = (v % period) - period / 2
        return (du**2 + dv**2 < (period * 0.28) ** 2).astype(np.float32)
    # speckle: random binary blocks of 2-3 pixels
    block = rng.randint(2, 4)
    cells = rng.rand(size // block + 1, size // block + 1) < 0.5
    return np.kron(cells, np.ones((block, block)))[:size, :size].astype(np.float32)


def _shape_mask(rng, size):
    y, x = np.mgrid[:size, :size].astype(np.float32)
    cy, cx = rng.uniform(0.2, 0.8, 2) * size
    radius = rng.uniform(0.12, 0.28) * size
    kind = rng.randint(4)
    if kind == 0:
        return (x - cx) ** 2 + (y - cy) ** 2 < radius**2
    if kind == 1:
        ry = radius * rng.uniform(0.5, 1.0)
        return ((x - cx) / radius) ** 2 + ((y - cy) / ry) ** 2 < 1
    if kind == 2:
        hw, hh = radius * rng.uniform(0.6, 1.0, 2)
        return (np.abs(x - cx) < hw) & (np.abs(y - cy) < hh)
    # triangle pointing up
    rel_y = (y - (cy - radius)) / (2 * radius)
    return (rel_y >= 0) & (rel_y <= 1) & (np.abs(x - cx) <= rel_y * radius)


def _colour_pair(rng):
    a = rng.uniform(20, 235, 3)
    b = np.clip(a + rng.choice([-1, 1], 3) * rng.uniform(60, 120, 3), 0, 255)
    return a, b


def make_example(index, size=SIZE, seed=0):
    """Image (size, size, 3) uint8 and mask (size, size) uint8 number `index`."""
    rng = np.random.RandomState(seed * 100003 + index)
    a, b = _colour_pair(rng)
    field = _smooth_field(rng, size, rng.randint(2, 5))[..., None]
    image = a * field + b * (1 - field)
    mask = np.zeros((size, size), np.uint8)
    for _ in range(rng.randint(1, 4)):
        region = _shape_mask(rng, size)
        kind = rng.randint(1, len(CLASSES))
        a, b = _colour_pair(rng)
        pattern = _texture(rng, kind, size)[..., None]
        image = np.where(region[..., None], a * pattern + b * (1 - pattern), image)
        mask[region] = kind
    image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    return image, mask


def coarsen(mask, band=COARSE_BAND, ignore_label=IGNORE_LABEL):
    """`mask` (H, W) with every pixel within `band` pixels (Chebyshev) of another label set
    to `ignore_label`: a coarse annotation of the same picture."""
    padded = np.pad(mask, band, mode="edge")
    height, width = mask.shape
    boundary = np.zeros(mask.shape, bool)
    for dy in range(2 * band + 1):
        for dx in range(2 * band + 1):
            boundary |= padded[dy : dy + height, dx : dx + width] != mask
    return np.where(boundary, np.uint8(ignore_label), mask)


def save_voc_pair(root, name, image, mask, quality=92):
    """Write `root/JPEGImages/<name>.jpg` and `root/SegmentationClass/<name>.png` (VOC palette PNG)."""
    Image.fromarray(image).save(os.path.join(root, "JPEGImages", f"{name}.jpg"), quality=quality)
    png = Image.fromarray(mask, mode="P")
    png.putpalette(voc_palette().flatten().tolist())
    png.save(os.path.join(root, "SegmentationClass", f"{name}.png"))


def is_builtin_dataset(root):
    return os.path.isfile(os.path.join(root, "COMPLETE"))


def builtin_root(root=None):
    """The folder of the built-in dataset for `data.root`, generated if needed.

    `None`: the cache (`default_root()`). An existing built-in dataset: used as it is. An
    existing empty folder: the dataset is generated into it. Anything else (a missing
    folder, a folder of other files such as a real dataset) is a `DataError` saying to set
    `data.format`: generated data never stands in for a dataset silently.
    """
    if root is None:
        root = default_root()
        if not is_builtin_dataset(root):
            print(f"Generating the built-in dataset into the cache: {root}", flush=True)
        return ensure_builtin_dataset(root)
    if is_builtin_dataset(root):
        return root
    if not os.path.isdir(root):
        raise DataError(
            f"data.root={root}: no such folder. With data.format=builtin, leave data.root unset (the dataset is "
            "generated into the cache) or point it at an empty folder; for your own data set data.format "
            "(voc, cityscapes or folder)"
        )
    if os.listdir(root):
        raise DataError(
            f"data.root={root} holds files but not the built-in dataset: for your own data set data.format "
            "(voc, cityscapes or folder)"
        )
    print(f"Generating the built-in dataset into the empty folder {root}", flush=True)
    return ensure_builtin_dataset(root)


def ensure_builtin_dataset(root=None, seed=0):
    """Generate the dataset at `root` (default `default_root()`) unless it is already there.

    Written into a temporary folder beside `root` and renamed into place, so an
    interrupted generation never leaves a half-written dataset. Returns the root.
    """
    root = root or default_root()
    if is_builtin_dataset(root):
        return root
    parent = os.path.dirname(os.path.abspath(root))
    os.makedirs(parent, exist_ok=True)
    tmp = make_staging_dir(root)
    try:
        for sub in ("JPEGImages", "SegmentationClass", os.path.join("ImageSets", "Segmentation")):
            os.makedirs(os.path.join(tmp, sub))
        index = 0
        for split, count in SPLITS.items():
            ids = []
            for _ in range(count):
                image, mask = make_example(index, seed=seed)
                if split in COARSE_SPLITS:
                    mask = coarsen(mask)
                name = f"{split}_{index:04d}"
                save_voc_pair(tmp, name, image, mask)
                ids.append(name)
                index += 1
            with open(os.path.join(tmp, "ImageSets", "Segmentation", f"{split}.txt"), "w") as f:
                f.write("\n".join(ids) + "\n")
        with open(os.path.join(tmp, "ImageSets", "Segmentation", "trainval.txt"), "w") as f:
            for split in ("train", "val"):
                f.write(open(os.path.join(tmp, "ImageSets", "Segmentation", f"{split}.txt")).read())
        with open(os.path.join(tmp, "classes.txt"), "w") as f:
            f.write("\n".join(CLASSES) + "\n")
        open(os.path.join(tmp, "COMPLETE"), "w").close()
        try:
            os.rename(tmp, root)
        except OSError:
            if not os.path.isfile(os.path.join(root, "COMPLETE")):  # another process did not win the race
                raise
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return root
