"""Rendering the built-in dataset's pictures: textured objects on real photographs.

Each picture is a crop of a real photograph (the photos scikit-image ships in its wheel,
so nothing is downloaded) with one to four objects on it. An object's class is its
texture -- stripes, checker, dots or speckle -- and nothing else: its outline (disc,
ellipse, box, triangle, polygon or blob), its two colours, its size and its orientation
are drawn independently of the class, and each texture's period, duty cycle and
perspective vary within and beyond what one might call typical. Lighting falls across
the picture, the camera adds a little blur and sensor noise, and the file is a JPEG:
what a model learns here is meant to carry over to photographs of textured things.

Training and validation pictures use different photographs (`PHOTOS`), so the validation
mIoU measures what a model does on backgrounds it has never seen.
"""

import functools
import importlib.resources

import numpy as np
from PIL import Image, ImageFilter

from kseg.data.sources import DataError

TEXTURES = ("stripes", "checker", "dots", "speckle")  # classes 1..4; 0 is the background
# scikit-image's bundled photographs (skimage/data), by split; grey ones are tinted.
PHOTOS = {
    "train": (
        "astronaut.png", "coffee.png", "motorcycle_left.png", "rocket.jpg", "retina.jpg", "ihc.png",
        "camera.png", "coins.png", "brick.png", "grass.png", "moon.png", "page.png", "cell.png",
    ),
    "val": ("chelsea.png", "hubble_deep_field.jpg", "gravel.png", "text.png", "clock_motion.png"),
}


@functools.lru_cache(maxsize=None)
def photo(name):
    """The bundled photograph `name` as (H, W, 3) float32 RGB in [0, 255]."""
    try:
        with importlib.resources.as_file(importlib.resources.files("skimage") / "data" / name) as path:
            image = Image.open(path).convert("RGB")
    except (ModuleNotFoundError, FileNotFoundError) as error:
        raise DataError(
            f"the built-in dataset draws its backgrounds from scikit-image's photos and cannot read {name}: "
            f"{error} (pip install scikit-image)"
        ) from error
    return np.asarray(image, np.float32)


def background(rng, split, size):
    """A (size, size, 3) crop of one of `split`'s photos: random position, scale, flip and tint."""
    names = PHOTOS["val" if split == "val" else "train"]
    source = photo(names[rng.randint(len(names))])
    height, width = source.shape[:2]
    side = int(min(height, width) * rng.uniform(0.25, 1.0))
    top, left = rng.randint(height - side + 1), rng.randint(width - side + 1)
    crop = Image.fromarray(source[top : top + side, left : left + side].astype(np.uint8)).resize(
        (size, size), Image.BILINEAR
    )
    image = np.asarray(crop, np.float32)
    if rng.rand() < 0.5:
        image = image[:, ::-1]
    grey = np.abs(image - image.mean(-1, keepdims=True)).max() < 2
    tint = rng.uniform(0.6, 1.2, 3) if grey else rng.uniform(0.8, 1.15, 3)
    return np.clip(image * tint, 0, 255)


def smooth_field(rng, size, cells):
    """(size, size) float32 in [0, 1]: bicubic upsampling of a (cells+1)^2 random grid."""
    coarse = rng.rand(cells + 1, cells + 1).astype(np.float32)
    image = Image.fromarray((coarse * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC)
    return np.asarray(image, np.float32) / 255.0


def _texture_coordinates(rng, size):
    """(u, v) pixel coordinates rotated, stretched, sheared and foreshortened at random."""
    y, x = np.mgrid[:size, :size].astype(np.float32) - size / 2
    angle = rng.uniform(0, np.pi)
    u = x * np.cos(angle) + y * np.sin(angle)
    v = -x * np.sin(angle) + y * np.cos(angle)
    u, v = u * rng.uniform(0.8, 1.25) + v * rng.uniform(-0.25, 0.25), v * rng.uniform(0.8, 1.25)
    depth = 1 + rng.uniform(-0.3, 0.3) * x / size + rng.uniform(-0.3, 0.3) * y / size  # a plane seen obliquely
    return u / depth, v / depth


def texture(rng, kind, size):
    """(size, size) float32 in [0, 1]: the pattern of class `kind` (1..4) over the whole canvas,
    anti-aliased (drawn at twice the resolution and averaged)."""
    fine = 2 * size
    u, v = _texture_coordinates(rng, fine)
    if kind == 1:  # stripes: period 6-22 px, duty cycle 30-70%
        period = 2 * rng.uniform(6, 22)
        pattern = (u / period) % 1 < rng.uniform(0.3, 0.7)
    elif kind == 2:  # checker: cells 4-12 px
        cell = 2 * rng.uniform(4, 12)
        pattern = (np.floor(u / cell) + np.floor(v / cell)) % 2 == 1
    elif kind == 3:  # dots: 7-20 px apart, radius 20-38% of that, on a square or hexagonal lattice
        period = 2 * rng.uniform(7, 20)
        row = np.floor(v / period)
        shift = (row % 2) * 0.5 if rng.rand() < 0.5 else 0
        du = (u / period + shift) % 1 - 0.5
        dv = (v / period) % 1 - 0.5
        pattern = du**2 + dv**2 < rng.uniform(0.2, 0.38) ** 2
    else:  # speckle: random blocks of 1-4 px, 30-70% on
        block = 2 * rng.randint(1, 5)
        cells = rng.rand(fine // block + 1, fine // block + 1) < rng.uniform(0.3, 0.7)
        pattern = np.kron(cells, np.ones((block, block)))[:fine, :fine]
    pattern = pattern.astype(np.float32)
    return pattern.reshape(size, 2, size, 2).mean(axis=(1, 3))


def _polygon(rng, x, y, cx, cy, radius, corners):
    angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
    radii = radius * rng.uniform(0.6, 1.0, corners)
    px, py = cx + radii * np.cos(angles), cy + radii * np.sin(angles)
    inside = np.ones(x.shape, bool)
    for i in range(corners):  # the convex hull of points sorted by angle around the centre
        j = (i + 1) % corners
        inside &= (px[j] - px[i]) * (y - py[i]) - (py[j] - py[i]) * (x - px[i]) >= 0
    return inside


def shape_mask(rng, size):
    """(size, size) bool: one object's outline at a random place, size and orientation."""
    y, x = np.mgrid[:size, :size].astype(np.float32)
    cy, cx = rng.uniform(0.15, 0.85, 2) * size
    radius = rng.uniform(0.12, 0.3) * size
    angle = rng.uniform(0, np.pi)
    ru = (x - cx) * np.cos(angle) + (y - cy) * np.sin(angle)
    rv = -(x - cx) * np.sin(angle) + (y - cy) * np.cos(angle)
    kind = rng.randint(6)
    if kind == 0:
        return ru**2 + rv**2 < radius**2
    if kind == 1:
        return (ru / radius) ** 2 + (rv / (radius * rng.uniform(0.45, 0.9))) ** 2 < 1
    if kind == 2:
        return (np.abs(ru) < radius * rng.uniform(0.6, 1.0)) & (np.abs(rv) < radius * rng.uniform(0.45, 1.0))
    if kind in (3, 4):
        return _polygon(rng, x, y, cx, cy, radius, 3 if kind == 3 else rng.randint(5, 9))
    blob = smooth_field(rng, size, 4) + 1.2 * (1 - np.sqrt(ru**2 + rv**2) / (1.4 * radius))
    return blob > 1.0


def colour_pair(rng):
    """Two RGB colours (3,) in [0, 255] of independent random hues, one dark (every channel
    below 100) and one bright (above 155), in random order: the luminance contrast of most
    printed and woven textures. (Pairs that differ in hue alone are far harder to learn from
    scratch: a small PAN reached about half the mIoU in the same steps.)"""
    dark, bright = rng.uniform(0, 100, 3), rng.uniform(155, 255, 3)
    return (dark, bright) if rng.rand() < 0.5 else (bright, dark)


def render(rng, split, size):
    """One picture: image (size, size, 3) uint8 RGB and labels (size, size) uint8 in 0..4."""
    image = background(rng, split, size)
    labels = np.zeros((size, size), np.uint8)
    for _ in range(rng.randint(1, 5)):
        region = shape_mask(rng, size)
        if region.sum() < 64:
            continue
        kind = rng.randint(1, len(TEXTURES) + 1)
        a, b = colour_pair(rng)
        pattern = texture(rng, kind, size)[..., None]
        shading = rng.uniform(0.65, 1.1) + rng.uniform(0, 0.35) * smooth_field(rng, size, 2)[..., None]
        image = np.where(region[..., None], (a * pattern + b * (1 - pattern)) * shading, image)
        labels[region] = kind
    light = 0.75 + 0.5 * smooth_field(rng, size, 1)[..., None]
    image = Image.fromarray(np.clip(image * light, 0, 255).astype(np.uint8))
    image = np.asarray(image.filter(ImageFilter.GaussianBlur(rng.uniform(0, 0.8))), np.float32)
    image = image + rng.normal(0, rng.uniform(1, 6), image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), labels
