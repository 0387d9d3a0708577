"""Colour-coded masks (kseg/data/colour_masks.py, `data.mask_colours`): each palette colour is
its class, palette[255] the ignore label, any other colour a one-line error naming the file;
the masks reach the file pipeline and the records as the same class indices."""

import numpy as np
import pytest
from PIL import Image

import kseg.data as kd
from kseg.data.colour_masks import ColourLabels
from kseg.data.decode import read_mask
from kseg.training.config import dataset_spec, load_config
from kseg.visualize import voc_palette

COLOURS = [[0, 0, 0], [250, 50, 50], [40, 200, 90]]  # background, crack, rust
INDICES = np.array([[0, 1, 2, 255], [2, 2, 1, 0]], np.uint8)


def _colour_mask(indices, path):
    palette = voc_palette()
    palette[: len(COLOURS)] = COLOURS
    Image.fromarray(palette[indices]).save(path)
    return str(path)


def test_colours_become_their_classes_and_the_void_colour_the_ignore_label(tmp_path):
    palette = voc_palette()
    palette[:3] = COLOURS
    labels = ColourLabels(palette, 3)
    np.testing.assert_array_equal(read_mask(_colour_mask(INDICES, tmp_path / "m.png"), labels), INDICES)
    table = np.arange(256, dtype=np.uint8)
    table[2] = 1  # data.label_map {2: 1} after the colours
    np.testing.assert_array_equal(read_mask(str(tmp_path / "m.png"), ColourLabels(palette, 3, table)), np.where(INDICES == 2, 1, INDICES))
    voc = tmp_path / "voc.png"  # VOC's own palette PNGs read the same way as their indices
    picture = Image.fromarray(INDICES, mode="P")
    picture.putpalette(voc_palette().ravel().tolist())
    picture.save(voc)
    np.testing.assert_array_equal(read_mask(str(voc), ColourLabels(voc_palette(), 21)), INDICES)


def test_a_colour_of_no_class_is_named_with_its_file(tmp_path):
    palette = voc_palette()
    palette[:3] = COLOURS
    rgb = palette[INDICES].copy()
    rgb[0, 0] = [1, 2, 3]  # an antialiased edge, say
    Image.fromarray(rgb).save(tmp_path / "m.png")
    with pytest.raises(kd.DataError, match=r"m.png: 1 pixels of colours no class has in data.palette: \(1, 2, 3\)$"):
        read_mask(str(tmp_path / "m.png"), ColourLabels(palette, 3))
    Image.fromarray(INDICES).save(tmp_path / "grey.png")
    with pytest.raises(kd.DataError, match=r"grey.png: data.mask_colours reads colour masks \(RGB\); this one has mode L"):
        read_mask(str(tmp_path / "grey.png"), ColourLabels(palette, 3))
    with pytest.raises(ValueError, match="data.palette gives two classes .* one colour"):
        ColourLabels(np.zeros((256, 3), np.uint8), 3)
    with pytest.raises(kd.DataError, match=r"this one has mode RGB \(colour-coded classes: --set data.mask_colours=true"):
        read_mask(str(tmp_path / "m.png"))  # without the option: the hint


def test_a_folder_dataset_of_colour_masks_trains_from_files_and_records_alike(tmp_path):
    root = tmp_path / "data"
    for split in ("train", "val"):
        (root / split / "images").mkdir(parents=True)
        (root / split / "masks").mkdir(parents=True)
        Image.fromarray(np.full((2, 4, 3), 90, np.uint8)).save(root / split / "images" / "a.png")
        _colour_mask(INDICES, root / split / "masks" / "a.png")
    config = load_config(overrides=["data.format=folder", f"data.root={root}", "data.class_names=[background, crack, rust]",
                                    f"data.palette={COLOURS}", "data.mask_colours=true"])
    spec = dataset_spec(config)
    splits = kd.dataset_splits(spec)
    _, masks = next(iter(kd.segmentation_dataset(splits.val_pairs, 3, training=False, label_table=splits.label_table)))
    np.testing.assert_array_equal(masks[0], INDICES)
    kd.write_records(spec, str(tmp_path / "records"))
    records = kd.dataset_splits(kd.DatasetSpec("records", str(tmp_path / "records")))
    _, masks = next(iter(kd.segmentation_dataset(records.val_pairs, 3, training=False)))
    np.testing.assert_array_equal(masks[0], INDICES)
