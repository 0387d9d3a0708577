"""Listing (image, mask) file pairs for each dataset layout, with errors that name the file."""

import glob
import os

from kseg.constants import IMAGE_SUFFIXES
from kseg.output_paths import url_scheme


class DataError(ValueError):
    """A dataset file is missing, unreadable or inconsistent; the message names it."""


def _check_dir(path, what):
    scheme = url_scheme(path)
    if scheme:  # Python's file functions would look for a local folder named "gs:"
        raise DataError(
            f"{what}: {path} is a {scheme}:// URL, and this format reads local files: copy the dataset to a local "
            f"folder, or convert it once (python -m training.make_records --out {scheme}://...) and train with "
            "data.format=records, which reads any filesystem TensorFlow reads"
        )
    if not os.path.isdir(path):
        raise DataError(f"{what}: no such directory: {path}")


def voc_pairs(root, split="train"):
    """PASCAL VOC 2012 layout.

    `root/ImageSets/Segmentation/<split>.txt` lists image ids; images are
    `root/JPEGImages/<id>.jpg`, masks `root/SegmentationClass/<id>.png` (palette PNGs read as
    indices). The SBD-augmented split (`split="train_aug"`, 10,582 ids in
    `ImageSets/Segmentation/train_aug.txt`) reads `root/SegmentationClassAug/<id>.png`
    (grey-level indices) instead. A line may also be a pair of paths relative to `root`, as
    DeepLab's `train_aug.txt` has them (`/JPEGImages/<id>.jpg /SegmentationClassAug/<id>.png`).

    Returns:
        list of (image_path, mask_path).
    """
    _check_dir(root, "VOC root")
    list_file = os.path.join(root, "ImageSets", "Segmentation", f"{split}.txt")
    if not os.path.isfile(list_file):
        available = sorted(
            os.path.splitext(f)[0] for f in os.listdir(os.path.join(root, "ImageSets", "Segmentation"))
        ) if os.path.isdir(os.path.join(root, "ImageSets", "Segmentation")) else []
        raise DataError(f"VOC split {split!r}: no list file {list_file} (available: {available})")
    mask_dir = "SegmentationClassAug" if split.endswith("_aug") else "SegmentationClass"
    with open(list_file) as f:
        entries = [line.split() for line in f if line.strip()]
    if not entries:
        raise DataError(f"{list_file} lists no images")
    pairs = []
    for entry in entries:
        if len(entry) >= 2:  # a pair of paths under root
            image, mask = (os.path.join(root, part.lstrip("/")) for part in entry[:2])
        else:
            image = os.path.join(root, "JPEGImages", f"{entry[0]}.jpg")
            mask = os.path.join(root, mask_dir, f"{entry[0]}.png")
        for path in (image, mask):
            if not os.path.isfile(path):
                raise DataError(f"{list_file} names {' '.join(entry[:2])!r} but {path} does not exist")
        pairs.append((image, mask))
    return pairs


def cityscapes_pairs(root, split="train", annotation="gtFine"):
    """Cityscapes layout: `root/leftImg8bit/<split>/<city>/<name>_leftImg8bit.png` with
    `root/<annotation>/<split>/<city>/<name>_<annotation>_labelIds.png` (annotation
    "gtFine" or "gtCoarse"; the coarse set also has split "train_extra")."""
    if annotation not in ("gtFine", "gtCoarse"):
        raise DataError(f"Expected annotation 'gtFine' or 'gtCoarse'. Received: {annotation!r}")
    image_dir = os.path.join(root, "leftImg8bit", split)
    _check_dir(image_dir, f"Cityscapes {split} images")
    images = sorted(glob.glob(os.path.join(image_dir, "*", "*_leftImg8bit.png")))
    if not images:
        raise DataError(f"No *_leftImg8bit.png under {image_dir}")
    pairs = []
    for image in images:
        city = os.path.basename(os.path.dirname(image))
        stem = os.path.basename(image)[: -len("_leftImg8bit.png")]
        mask = os.path.join(root, annotation, split, city, f"{stem}_{annotation}_labelIds.png")
        if not os.path.isfile(mask):
            raise DataError(f"{image} has no annotation: {mask} does not exist")
        pairs.append((image, mask))
    return pairs


def folder_pairs(root):
    """Plain folders: `root/images/<stem>.<jpg|png|...>` with `root/masks/<stem>.png`."""
    image_dir, mask_dir = os.path.join(root, "images"), os.path.join(root, "masks")
    _check_dir(image_dir, "images folder")
    _check_dir(mask_dir, "masks folder")
    images = sorted(
        f for f in os.listdir(image_dir) if os.path.splitext(f)[1].lower() in IMAGE_SUFFIXES
    )
    if not images:
        raise DataError(f"No images ({', '.join(IMAGE_SUFFIXES)}) in {image_dir}")
    pairs = []
    for name in images:
        mask = os.path.join(mask_dir, os.path.splitext(name)[0] + ".png")
        if not os.path.isfile(mask):
            raise DataError(f"{os.path.join(image_dir, name)} has no mask: {mask} does not exist")
        pairs.append((os.path.join(image_dir, name), mask))
    return pairs
