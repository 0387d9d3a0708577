"""The built-in dataset's drawing (kseg/data/synthetic.py): deterministic pictures, labels that
are the textures' classes, validation backgrounds from photographs training never uses, and
each texture and colour pair within the ranges its docstring gives."""

import numpy as np
import pytest

from kseg.data import synthetic
from kseg.data.sources import DataError


def test_a_picture_is_a_function_of_its_seed():
    image, labels = synthetic.render(np.random.RandomState(3), "train", 64)
    again, same = synthetic.render(np.random.RandomState(3), "train", 64)
    other, _ = synthetic.render(np.random.RandomState(4), "train", 64)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8 and labels.dtype == np.uint8
    np.testing.assert_array_equal(image, again)
    np.testing.assert_array_equal(labels, same)
    assert not np.array_equal(image, other)
    assert set(np.unique(labels)) <= set(range(len(synthetic.TEXTURES) + 1))


def test_the_splits_draw_on_disjoint_photographs(monkeypatch):
    asked = []
    monkeypatch.setattr(synthetic, "photo", lambda name: asked.append(name) or np.full((40, 50, 3), 128, np.float32))
    rng = np.random.RandomState(0)
    for _ in range(30):
        synthetic.background(rng, "val", 16)
    assert set(asked) <= set(synthetic.PHOTOS["val"]) and len(set(asked)) > 1
    asked.clear()
    for _ in range(30):
        synthetic.background(rng, "train", 16)
    assert set(asked) <= set(synthetic.PHOTOS["train"])
    assert not set(synthetic.PHOTOS["val"]) & set(synthetic.PHOTOS["train"])


@pytest.mark.parametrize("kind, low, high", [(1, 0.3, 0.7), (2, 0.4, 0.6), (3, 0.1, 0.46), (4, 0.25, 0.75)])
def test_each_texture_covers_the_share_of_the_canvas_its_parameters_allow(kind, low, high):
    rng = np.random.RandomState(kind)
    for _ in range(5):
        pattern = synthetic.texture(rng, kind, 96)
        assert pattern.shape == (96, 96) and 0 <= pattern.min() and pattern.max() <= 1
        assert low <= pattern.mean() <= high, (kind, pattern.mean())


def test_colour_pairs_are_one_dark_and_one_bright():
    rng = np.random.RandomState(0)
    for _ in range(20):
        pair = sorted(synthetic.colour_pair(rng), key=lambda c: c.mean())
        assert (pair[0] < 100).all() and (pair[1] > 155).all()


def test_a_missing_photograph_is_a_data_error_saying_where_they_come_from():
    with pytest.raises(DataError, match=r"scikit-image's photos and cannot read no-such\.png: .*pip install scikit-image"):
        synthetic.photo("no-such.png")
