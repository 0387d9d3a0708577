"""Segmenting image files: a folder, a glob or one file -> a palette PNG of labels and an
overlay per image (what `python -m training.predict` runs)."""

import functools
import glob
import os
import re

import numpy as np
from PIL import Image, ImageOps

from kseg.atomic import atomic_path
from kseg.constants import IMAGE_SUFFIXES, SERVED_SUFFIXES, TENSOR_SIGNATURE
from kseg.data.pillow_rgb import rgb_pixels
from kseg.visualize import overlay, voc_palette



def image_paths(spec):
    """The image files `spec` names, sorted: a folder (its files with an image suffix, not
    recursive), a glob pattern, or one file. Raises FileNotFoundError naming `spec` when
    nothing matches."""
    if os.path.isdir(spec):
        paths = [os.path.join(spec, name) for name in os.listdir(spec) if name.lower().endswith(IMAGE_SUFFIXES)]
    elif glob.has_magic(spec):
        paths = [path for path in glob.glob(spec) if os.path.isfile(path)]
    elif os.path.isfile(spec):
        paths = [spec]
    else:
        raise FileNotFoundError(f"--images {spec}: no such file, folder or pattern")
    if not paths:
        raise FileNotFoundError(f"--images {spec}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    return sorted(paths)


def load_segmenter(path, precision="float32", **options):
    """`images (1, H, W, 3) -> labels (1, H, W)` for a run folder or `.keras` file (with the
    test-time `options` of `kseg.inference.predict`, computing in `precision`, see
    `kseg.models.loading.with_precision`) or an exported SavedModel folder (as exported:
    its `predict_tensor` signature; options and precision do not apply)."""
    import tensorflow as tf

    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        options = dict(options, precision=None if precision == "float32" else precision)
        used = sorted(key for key, value in options.items() if value not in (None, False, (1.0,), "mean"))
        if used:
            raise ValueError(f"{', '.join(used)}: test-time options need a .keras model or run folder; {path} is a SavedModel")
        signature = tf.saved_model.load(path).signatures[TENSOR_SIGNATURE]
        return lambda images: signature(images=tf.constant(images, tf.float32))["labels"]
    from kseg.inference.predict import predictor
    from kseg.models.loading import load_inference_model

    forward = predictor(load_inference_model(path, precision), **options)
    return lambda images: tf.argmax(forward(tf.constant(images, tf.float32)), axis=-1, output_type=tf.int32)


def model_palette(path):
    """(256, 3) uint8 colours of the classes of the model at `path` (its labels metadata,
    `kseg.serving.labels`), or None (the VOC palette) when it has none."""
    from kseg.data.palettes import read_palette
    from kseg.serving.labels import read_labels

    labels = read_labels(path)
    if not labels or not labels.get("palette"):
        return None
    return read_palette(labels["palette"], len(labels["palette"]), key=f"{path}: palette")


@functools.lru_cache(maxsize=None)
def _served_decoder():
    """The exported graph's checked decoder (`kseg.serving.graph.checked_decode`), traced once."""
    import tensorflow as tf

    from kseg.serving.graph import MAX_PIXELS, checked_decode

    return tf.function(lambda data: checked_decode(data, 0, MAX_PIXELS), input_signature=[tf.TensorSpec([], tf.string)])


def _decoder_reason(error):
    """The reason in a decoding `InvalidArgumentError`, without TensorFlow's node names."""
    text = re.sub(r"\{\{[^}]*\}\}", "", error.message)
    named = re.search(r"images\[0\]: ([^\]\n]+)", text)
    if named:
        return named.group(1).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith(("Graph execution", "[["))]
    return lines[0] if lines else "the decoder cannot read it"


def read_rgb(path):
    """uint8 `(H, W, 3)` of an image file. JPEG, PNG, GIF and BMP are decoded by the exported
    SavedModel's own graph (`kseg.serving.graph.checked_decode`), so `training.predict` sees
    the pixels TF Serving sees: a GIF's first frame, 16-bit PNGs by their high byte, at most
    `MAX_PIXELS` pixels, turned by EXIF orientation (`kseg.serving.exif`); WebP and TIFF go
    through Pillow (16-bit grey likewise by its high byte; turned by `ImageOps.exif_transpose`).
    Raises ValueError saying why a file cannot be read (Pillow's decompression-bomb limit included)."""
    if path.lower().endswith(SERVED_SUFFIXES):
        import tensorflow as tf

        with open(path, "rb") as f:
            data = f.read()
        try:
            return _served_decoder()(tf.constant(data)).numpy().astype(np.uint8)
        except tf.errors.InvalidArgumentError as error:
            raise ValueError(_decoder_reason(error)) from None
    try:
        with Image.open(path) as opened:
            return rgb_pixels(ImageOps.exif_transpose(opened))
    except Image.DecompressionBombError as error:
        raise ValueError(str(error)) from None


def write_png(path, array, palette=None):
    """`array` ((H, W) or (H, W, 3) uint8; a palette PNG with `palette` ((256, 3) uint8)) as
    `path`, written whole or not at all (`kseg.atomic`). Returns `path`."""
    picture = Image.fromarray(array)
    if palette is not None:
        picture.putpalette(np.asarray(palette, np.uint8).ravel().tolist())
    with atomic_path(path) as tmp:
        picture.save(tmp, format="PNG")
    return path


def predict_files(segment, paths, out_dir, palette=None, alpha=0.5, progress=None, label_ids=None):
    """Segment every file of `paths` with `segment` (see `load_segmenter`), writing into
    `out_dir` `<stem>.png` (a palette PNG of the labels at the image's own size),
    `<stem>_overlay.png` and, with `label_ids` ((256,) uint8, train id -> a benchmark's id,
    `kseg.data.labels.LABEL_ID_TABLES`), `<stem>_labelIds.png` (grey, one id a pixel). An
    unreadable image is recorded and skipped; the others are written.

    Args:
        segment: callable images (1, H, W, 3) float -> labels (1, H, W) int.
        paths: image file paths.
        out_dir: output folder (created).
        palette: (256, 3) uint8 or None (the VOC palette).
        alpha: overlay opacity of the labels. Defaults to 0.5.
        progress: None or callable(done, total, path) after each file.

    Returns:
        {"written": [(image, labels_png, overlay_png)], "failed": {image: reason}}.
    """
    palette = voc_palette() if palette is None else np.asarray(palette, np.uint8)
    os.makedirs(out_dir, exist_ok=True)
    written, failed, stems = [], {}, set()
    for done, path in enumerate(paths, start=1):
        try:
            image = read_rgb(path)
        except (OSError, ValueError, SyntaxError) as error:
            failed[path] = f"cannot read the image ({error})"
        else:
            labels = np.asarray(segment(image[None].astype(np.float32)))[0].astype(np.uint8)
            stem = unique_stem(os.path.splitext(os.path.basename(path))[0], stems)
            written.append((
                path,
                write_png(os.path.join(out_dir, f"{stem}.png"), labels, palette),
                write_png(os.path.join(out_dir, f"{stem}_overlay.png"), overlay(image, labels, alpha, palette)),
            ))
            if label_ids is not None:
                write_png(os.path.join(out_dir, f"{stem}_labelIds.png"), np.asarray(label_ids, np.uint8)[labels])
        if progress:
            progress(done, len(paths), path)
    return {"written": written, "failed": failed}


def unique_stem(stem, taken):
    """`stem`, or `stem_2`, `stem_3`, ... when two inputs share a name (a glob over folders);
    adds the name it returns to `taken` (a set)."""
    candidate, index = stem, 1
    while candidate in taken:
        index += 1
        candidate = f"{stem}_{index}"
    taken.add(candidate)
    return candidate
