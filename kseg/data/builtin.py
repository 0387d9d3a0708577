"""The built-in dataset: textured objects on real photographs, generated in the VOC layout.

Five classes: background and four textures (stripes, checker, dots, speckle) on objects
of any outline and colour pasted onto crops of real photographs (`kseg.data.synthetic`
renders them; scikit-image's bundled photos, different ones for train and val). 160x160
JPEGs, 480 train and 120 val, generated deterministically, written once (atomically) into
a cache folder and reused.

A third split, "coarse", has 256 further pictures labelled the way Cityscapes' coarse set
is: a band along every region boundary is left unlabelled (255), so the labels keep the
main part of each region and lose its contour. It is there for recipes that mix fine and
coarse annotations (RelationNet's alternating training).
"""

import concurrent.futures
import multiprocessing
import os
import shutil

import numpy as np
from PIL import Image

from kseg.atomic import make_staging_dir
from kseg.constants import IGNORE_LABEL
from kseg.data.sources import DataError
from kseg.data.synthetic import TEXTURES, render
from kseg.visualize import voc_palette

CLASSES = ("background",) + TEXTURES
VERSION = "textures-v4"
SIZE = 160
SPLITS = {"train": 480, "val": 120, "coarse": 256}
COARSE_SPLITS = ("coarse",)
COARSE_BAND = 3  # pixels each side of a boundary left unlabelled in the coarse split


def default_root():
    """`$KSEG_DATA_DIR/<VERSION>`, or `~/.cache/kseg/<VERSION>`."""
    base = os.environ.get("KSEG_DATA_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "kseg")
    return os.path.join(base, VERSION)


def make_example(index, size=SIZE, seed=0, split="train"):
    """Image (size, size, 3) uint8 and mask (size, size) uint8 number `index` of `split`
    (whose photographs it draws its background from: `kseg.data.synthetic.PHOTOS`)."""
    return render(np.random.RandomState(seed * 100003 + index), split, size)


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


def _write_example(job):
    """Render and save example `index` of `split` into `root`; returns its file stem."""
    root, index, split, seed = job
    image, mask = make_example(index, seed=seed, split=split)
    if split in COARSE_SPLITS:
        mask = coarsen(mask)
    name = f"{split}_{index:04d}"
    save_voc_pair(root, name, image, mask, quality=75 + index % 21)
    return name


def _run_all(function, jobs):
    """`[function(job) for job in jobs]`, spread over the CPU's cores in forked processes where
    the platform forks (each example is seeded by its index, so the files are the same either
    way; forked children run NumPy and Pillow only, never TensorFlow)."""
    workers = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 8)
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [function(job) for job in jobs]
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(function, jobs, chunksize=16))


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
        jobs = [(tmp, index, split, seed) for index, split in enumerate(s for s, n in SPLITS.items() for _ in range(n))]
        names = _run_all(_write_example, jobs)
        for split in SPLITS:
            with open(os.path.join(tmp, "ImageSets", "Segmentation", f"{split}.txt"), "w") as f:
                f.write("\n".join(n for n in names if n.startswith(split + "_")) + "\n")
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
