"""Label colours (kseg/data/palettes.py): named palettes, one colour per class, the format's
default, and errors that name the key."""

import numpy as np
import pytest

from kseg import visualize
from kseg.data.palettes import dataset_palette, read_palette
from kseg.data.spec import DatasetSpec


def test_listed_colours_replace_the_first_entries_of_the_voc_palette():
    palette = read_palette([[1, 2, 3], [4, 5, 6]], 2)
    assert palette.shape == (256, 3) and palette.dtype == np.uint8
    np.testing.assert_array_equal(palette[:2], [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(palette[2:], visualize.voc_palette()[2:])  # 255 keeps its colour


def test_a_dataset_takes_its_formats_palette_unless_it_names_one():
    cityscapes = DatasetSpec("cityscapes", "/d", class_names=[f"c{i}" for i in range(19)])
    np.testing.assert_array_equal(dataset_palette(cityscapes), visualize.cityscapes_palette())
    np.testing.assert_array_equal(dataset_palette(cityscapes.replace(palette="voc")), visualize.voc_palette())
    np.testing.assert_array_equal(dataset_palette(DatasetSpec("voc", "/d", class_names=["a", "b"])), visualize.voc_palette())


@pytest.mark.parametrize("value, message", [
    ("viridis", r"data.palette must be one of \['voc', 'cityscapes'\] or a list of \[r, g, b\]. Received: 'viridis'"),
    ([[1, 2, 3]], r"data.palette lists 1 colours but there are 2 classes \(one \[r, g, b\] each\)"),
])
def test_bad_palettes_name_the_key(value, message):
    with pytest.raises(ValueError, match=message):
        read_palette(value, 2)
