"""Wide ResNet-38 (model A) with RelationNet's changes: layout, strides, deformable blocks."""

import keras
import numpy as np
import pytest

from kseg.backbones import WideResNet38Backbone
from kseg.layers import DeformableConv2D

TINY_BLOCKS = ((1, (8, 8)), (1, (8, 8)), (2, (16, 16)), (1, (16, 24)), (1, (8, 16, 24)), (1, (8, 16, 32)))


def _images(size=32, batch=2):
    return np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)).astype("float32")


def test_model_a_layout_and_output_stride_8():
    backbone = WideResNet38Backbone()
    convs = [layer for layer in backbone.layers if isinstance(layer, (keras.layers.Conv2D, DeformableConv2D))]
    main = [c for c in convs if not c.name.endswith("_shortcut")]
    assert len(main) == 37  # + the classifier = 38 layers
    deformable = [c for c in convs if isinstance(c, DeformableConv2D)]
    assert [c.name for c in deformable] == ["block6_unit1_conv2", "block7_unit1_conv2"]
    assert [c.dilation_rate for c in deformable] == [4, 4]
    assert all(backbone.get_layer(f"block5_unit{u}_conv2").dilation_rate == (2, 2) for u in (1, 2, 3))
    assert all(backbone.get_layer(f"block{b}_unit1_conv1").strides == (2, 2) for b in (2, 3, 4))
    assert not any(isinstance(layer, keras.layers.MaxPooling2D) for layer in backbone.layers)
    out = backbone(_images(32, 1))
    expected = {"block1": (32, 64), "block2": (16, 128), "block3": (8, 256), "block4": (4, 512),
                "block5": (4, 1024), "block6": (4, 2048), "block7": (4, 4096)}
    for key, (size, channels) in expected.items():
        assert out[key].shape == (1, size, size, channels), key
    assert backbone.count_params() == 105_367_524  # measured; see the class docstring


def test_any_size_round_trip_and_plain_variant(tmp_path):
    backbone = WideResNet38Backbone(blocks=TINY_BLOCKS, stem_filters=8)
    x = _images(27)
    out = backbone(x)
    assert out["block7"].shape == (2, 4, 4, 32)
    path = str(tmp_path / "wrn.keras")
    backbone.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(restored(x)["block7"].numpy(), out["block7"].numpy(), atol=1e-5)
    weights = str(tmp_path / "wrn.weights.h5")
    backbone.save_weights(weights)
    again = WideResNet38Backbone(blocks=TINY_BLOCKS, stem_filters=8, weights=weights)
    np.testing.assert_allclose(again(x)["block7"].numpy(), out["block7"].numpy(), atol=1e-5)
    plain = WideResNet38Backbone(blocks=TINY_BLOCKS, stem_filters=8, deformable=False)
    assert not any(isinstance(layer, DeformableConv2D) for layer in plain.layers)


def test_bad_blocks():
    with pytest.raises(ValueError, match="Expected blocks"):
        WideResNet38Backbone(blocks=TINY_BLOCKS[:5])
