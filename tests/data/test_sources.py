"""Listing (image, mask) pairs (kseg/data/sources.py) for the VOC, Cityscapes and folder layouts,
with errors that name the missing file."""

import os

import pytest

from kseg.data.sources import DataError, cityscapes_pairs, folder_pairs, voc_pairs


def _touch(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "w").close()
    return str(path)


def test_voc_lists_ids_or_path_pairs_and_names_what_is_missing(tmp_path):
    for name in ("a", "b"):
        _touch(tmp_path / "JPEGImages" / f"{name}.jpg")
        _touch(tmp_path / "SegmentationClass" / f"{name}.png")
        _touch(tmp_path / "SegmentationClassAug" / f"{name}.png")
    lists = tmp_path / "ImageSets" / "Segmentation"
    lists.mkdir(parents=True)
    (lists / "train.txt").write_text("a\nb\n")
    (lists / "train_aug.txt").write_text("/JPEGImages/b.jpg /SegmentationClassAug/b.png\na\n")
    assert voc_pairs(str(tmp_path)) == [(str(tmp_path / "JPEGImages" / f"{n}.jpg"), str(tmp_path / "SegmentationClass" / f"{n}.png")) for n in "ab"]
    aug = voc_pairs(str(tmp_path), "train_aug")
    assert [os.path.relpath(mask, tmp_path) for _, mask in aug] == ["SegmentationClassAug/b.png", "SegmentationClassAug/a.png"]
    with pytest.raises(DataError, match=r"VOC split 'val': no list file .*val.txt \(available: \['train', 'train_aug'\]\)"):
        voc_pairs(str(tmp_path), "val")
    (lists / "train.txt").write_text("a\nc\n")
    with pytest.raises(DataError, match=r"train.txt names 'c' but .*JPEGImages/c.jpg does not exist"):
        voc_pairs(str(tmp_path))


def test_cityscapes_pairs_each_image_with_its_annotation(tmp_path):
    image = _touch(tmp_path / "leftImg8bit" / "val" / "ulm" / "ulm_000001_leftImg8bit.png")
    fine = _touch(tmp_path / "gtFine" / "val" / "ulm" / "ulm_000001_gtFine_labelIds.png")
    assert cityscapes_pairs(str(tmp_path), "val") == [(image, fine)]
    with pytest.raises(DataError, match=r"ulm_000001_leftImg8bit.png has no annotation: .*gtCoarse_labelIds.png does not exist"):
        cityscapes_pairs(str(tmp_path), "val", "gtCoarse")
    with pytest.raises(DataError, match="Expected annotation 'gtFine' or 'gtCoarse'. Received: 'gtMedium'"):
        cityscapes_pairs(str(tmp_path), "val", "gtMedium")


def test_folders_pair_images_of_any_suffix_with_png_masks(tmp_path):
    images = [_touch(tmp_path / "images" / name) for name in ("x.JPG", "y.webp")]
    masks = [_touch(tmp_path / "masks" / name) for name in ("x.png", "y.png")]
    _touch(tmp_path / "images" / "notes.txt")
    assert folder_pairs(str(tmp_path)) == list(zip(images, masks))
    os.remove(masks[1])
    with pytest.raises(DataError, match=r"y.webp has no mask: .*masks/y.png does not exist"):
        folder_pairs(str(tmp_path))
    with pytest.raises(DataError, match="images folder: no such directory"):
        folder_pairs(str(tmp_path / "elsewhere"))


@pytest.mark.parametrize("pairs, what", [(voc_pairs, "VOC root"), (cityscapes_pairs, "Cityscapes train images"),
                                         (folder_pairs, "images folder")])
def test_a_url_root_is_named_as_one_with_the_way_to_read_it(tmp_path, monkeypatch, pairs, what):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=rf"^{what}: gs://bucket/d.* is a gs:// URL, and this format reads local files: "
                                        r".*python -m training.make_records --out gs://\.\.\.\) and train with data.format=records"):
        pairs("gs://bucket/d")
    assert os.listdir(tmp_path) == []
