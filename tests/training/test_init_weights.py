"""Starting from another model's weights (kseg/training/init_weights.py): layers matched by name,
extra parts kept as initialised, other shapes or nothing in common refused by name."""

import keras
import numpy as np
import pytest

from kseg.training.init_weights import transfer_weights


def _net(name, classes=3, extra=False):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="body")(inputs)
    outputs = [keras.layers.Conv2D(classes, 1, name="classifier")(x)]
    if extra:
        outputs.append(keras.layers.Conv2D(2, 1, name="similarity")(x))
    return keras.Model(inputs, outputs, name=name)


def test_matching_layers_are_copied_and_extra_ones_kept():
    keras.utils.set_random_seed(0)
    source, target = _net("fine"), _net("relation", extra=True)
    similarity = target.get_layer("similarity").get_weights()
    report = transfer_weights(source, target)
    assert sorted(report["copied"]) == ["body", "classifier"] and report["kept"] == ["similarity"]
    for name in ("body", "classifier"):
        for a, b in zip(source.get_layer(name).get_weights(), target.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(similarity, target.get_layer("similarity").get_weights()):
        np.testing.assert_array_equal(a, b)


def test_other_shapes_and_no_common_layer_are_refused():
    with pytest.raises(ValueError, match=r"Cannot start 'six' from 'three': layers \['classifier'\] have weights of other shapes"):
        transfer_weights(_net("three"), _net("six", classes=6))
    other = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(3, 1, name="head")], name="other")
    with pytest.raises(ValueError, match="Cannot start 'other' from 'three': no layer name in common"):
        transfer_weights(_net("three"), other)
