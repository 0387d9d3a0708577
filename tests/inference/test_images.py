"""`kseg.inference.images`: which files `--images` names, how each is read (the served decoder
for JPEG/PNG/GIF/BMP, Pillow for the rest, 16-bit by its high byte), and what `predict_files`
writes for a plain segmenter (a threshold), with unreadable files skipped by name."""

import os

import numpy as np
import pytest
from PIL import Image

from kseg.inference.images import image_paths, predict_files, read_rgb


def _picture(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def test_a_folder_a_glob_or_one_file(tmp_path):
    rgb = np.zeros((4, 5, 3), np.uint8)
    a, b = _picture(str(tmp_path / "in" / "b.png"), rgb), _picture(str(tmp_path / "in" / "a.JPG"), rgb)
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    assert image_paths(str(tmp_path / "in")) == [b, a]  # sorted, by suffix, case-insensitive
    assert image_paths(str(tmp_path / "in" / "*.png")) == [a]
    assert image_paths(a) == [a]
    with pytest.raises(FileNotFoundError, match=r"--images .*missing: no such file, folder or pattern"):
        image_paths(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match=r"--images .*\*\.gif: no image files"):
        image_paths(str(tmp_path / "in" / "*.gif"))


def test_served_and_pillow_formats_read_the_same_pixels_and_16_bit_by_its_high_byte(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    np.testing.assert_array_equal(read_rgb(_picture(str(tmp_path / "x.png"), rgb)), rgb)  # the served decoder
    np.testing.assert_array_equal(read_rgb(_picture(str(tmp_path / "x.tif"), rgb)), rgb)  # Pillow
    deep = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000)
    Image.fromarray(deep).save(tmp_path / "deep.tif")
    got = read_rgb(str(tmp_path / "deep.tif"))
    assert got.shape == (3, 4, 3)
    np.testing.assert_array_equal(got[..., 0], (deep >> 8).astype(np.uint8))


def test_predict_files_writes_labels_and_overlays_and_names_unreadable_files(tmp_path):
    bright = np.full((4, 6, 3), 200, np.uint8)
    bright[:, :3] = 10
    good = _picture(str(tmp_path / "in" / "pic.png"), bright)
    twin = _picture(str(tmp_path / "in2" / "pic.png"), bright)  # the same name from another folder
    broken = str(tmp_path / "in" / "broken.png")
    with open(broken, "wb") as f:
        f.write(b"not a png")
    result = predict_files(lambda images: (images[..., 0] > 100).astype(np.int32), [good, twin, broken],
                           str(tmp_path / "out"), label_ids=np.arange(256, dtype=np.uint8) * 7)
    assert [os.path.basename(w[1]) for w in result["written"]] == ["pic.png", "pic_2.png"]
    assert list(result["failed"]) == [broken] and result["failed"][broken].startswith("cannot read the image")
    labels = np.asarray(Image.open(tmp_path / "out" / "pic.png"))
    np.testing.assert_array_equal(labels, (bright[..., 0] > 100).astype(np.uint8))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / "pic_labelIds.png")), labels * 7)
    assert Image.open(tmp_path / "out" / "pic_overlay.png").size == (6, 4)
