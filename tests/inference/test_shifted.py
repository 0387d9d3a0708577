"""RelationNet's shifted testing places each prediction at its cell's receptive-field centre
(§II-C: "coordinate value of feature maps is the embedding of pixel locating at the center
of respective field"), measured from the network."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import kseg
from kseg.inference import centre_network, receptive_field_offsets, shifted_predict, stride_logits_model
from kseg.inference.predict import shifted_base


def _same_padding_centre(cell, side, layers=3):
    """Pixel a stride-2^layers stack of 3x3 stride-2 "same" convs centres `cell` on (TF pads
    the extra pixel after)."""
    sizes = [side]
    for _ in range(layers):
        sizes.append(math.ceil(sizes[-1] / 2))
    position = float(cell)
    for size_in, size_out in reversed(list(zip(sizes[:-1], sizes[1:]))):
        pad_before = max((size_out - 1) * 2 + 3 - size_in, 0) // 2
        position = 2 * position - pad_before + 1
    return position


def test_measured_centres_follow_the_padding_arithmetic_for_every_side_modulo_8():
    keras.utils.set_random_seed(0)
    stack = keras.Sequential(
        [keras.Input((None, None, 3))]
        + [keras.layers.Conv2D(1, 3, strides=2, padding="same", kernel_initializer="ones", use_bias=False) for _ in range(3)]
    )
    offsets = receptive_field_offsets(stack, 8, probe_cells=12)
    expected = [_same_padding_centre(6, 96 + r) - 48 for r in range(8)]
    np.testing.assert_allclose(offsets[:, 0], expected, atol=1e-3)
    np.testing.assert_allclose(offsets[:, 1], expected, atol=1e-3)
    assert expected[0] == 7.0 and expected[1] == 0.0  # the same network, 7 pixels apart


class _PixelsAt(keras.layers.Layer):
    """Cell (i, j) is the pixel (8 i + row, 8 j + col): a stride-8 "network" of known centres."""

    def __init__(self, row, col, **kwargs):
        super().__init__(**kwargs)
        self.row, self.col = row, col

    def call(self, images):
        height, width = tf.shape(images)[1], tf.shape(images)[2]
        padded = tf.pad(images, [[0, 0], [0, 8], [0, 8], [0, 0]])
        return padded[:, self.row :: 8, self.col :: 8][:, : (height + 7) // 8, : (width + 7) // 8]

    def get_config(self):
        return {**super().get_config(), "row": self.row, "col": self.col}


def _centred_at(row, col):
    inputs = keras.Input((None, None, 3))
    return keras.Model(inputs, _PixelsAt(row, col)(inputs))


def test_each_pixel_gets_the_cell_centred_on_it():
    model = _centred_at(3, 5)
    offsets = receptive_field_offsets(model, 8)
    np.testing.assert_allclose(offsets, np.tile([[3.0, 5.0]], (8, 1)), atol=1e-4)
    image = np.random.default_rng(0).uniform(0, 255, (29, 38, 3)).astype("float32")
    full = shifted_predict(model, image, steps=8, centre_offsets=offsets).numpy()
    np.testing.assert_array_equal(full[3:, 5:], image[3:, 5:])  # no pixel off its own cell
    np.testing.assert_array_equal(full[:3, 5:], np.broadcast_to(image[3:4, 5:], (3, 33, 3)))  # nearest centre
    anchored = shifted_predict(model, image, steps=8).numpy()  # top-left placement: 3 and 5 pixels off
    np.testing.assert_array_equal(anchored[:-3, :-5], image[3:, 5:])
    blocks = shifted_predict(model, image, steps=4, centre_offsets=offsets).numpy()  # 2x2 blocks on their centres
    rows = np.clip(3 + 2 * ((np.arange(29) - 3 + 1) // 2), 0, 28)  # block of centre c: pixels c - 1 .. c (2 = sub)
    cols = np.clip(5 + 2 * ((np.arange(38) - 5 + 1) // 2), 0, 37)
    np.testing.assert_array_equal(blocks[4:-1, 6:-1], image[rows][:, cols][4:-1, 6:-1])


def test_on_a_random_narrow_wide_resnet38_every_pixel_reads_the_run_whose_centre_it_is():
    keras.utils.set_random_seed(3)
    blocks = ((1, (8, 8)), (1, (8, 8)), (1, (8, 8)), (1, (8, 8)), (1, (8, 8, 8)), (1, (8, 8, 8)))
    model = kseg.models.RelationNet(num_classes=3, hidden_size=2, reduce_filters=4, backbone_blocks=blocks)
    offsets = receptive_field_offsets(centre_network(model), 8)
    np.testing.assert_allclose(offsets[:, 0], offsets[:, 1], atol=1e-4)  # a square network: same centre in both axes
    assert abs(offsets[1, 0]) < 1e-4 and 1.5 < offsets[0, 0] < 2.5  # odd sides: centred on 8 i; even: ~2 pixels on
    model.set_weights([w * 1.5 + 0.1 for w in model.get_weights()])
    np.testing.assert_allclose(receptive_field_offsets(centre_network(model), 8), offsets, atol=1e-4)  # geometry, not weights
    scores = stride_logits_model(model)
    image = np.random.default_rng(1).uniform(0, 255, (1, 24, 32, 3)).astype("float32")
    out = tf.function(shifted_base(model, 8))(image).numpy()[0]  # as predictor runs it
    fill = np.array(kseg.layers.preprocessing.IMAGENET_CAFFE_MEAN_RGB, np.float32)
    shifted = np.broadcast_to(fill, (64, 24, 32, 3)).copy()  # run (dy, dx): the image moved up dy, left dx
    for dy in range(8):
        for dx in range(8):
            shifted[8 * dy + dx, : 24 - dy, : 32 - dx] = image[0, dy:, dx:]
    cells = scores.predict(shifted, batch_size=64, verbose=0)
    runs = {(dy, dx): cells[8 * dy + dx] for dy in range(8) for dx in range(8)}
    shift = int(np.round(offsets[0, 0]))  # sides 24 and 32: residue 0
    assert shift == 2
    for y in range(24):
        for x in range(32):
            qy, qx = np.clip(y - shift, 0, 23), np.clip(x - shift, 0, 31)
            np.testing.assert_allclose(out[y, x], runs[qy % 8, qx % 8][qy // 8, qx // 8], atol=1e-5)


def test_shifted_predict_interleaves_so_each_pixel_gets_the_cell_anchored_on_it():
    from kseg.inference import shifted_predict

    # a "network" with output stride 8 whose score cell (i, j) is the pixel at (8 i, 8 j)
    def anchors(images):
        return images[:, ::8, ::8]

    image = np.random.default_rng(0).uniform(0, 255, (21, 30, 3)).astype("float32")
    full = shifted_predict(anchors, image, steps=8).numpy()
    np.testing.assert_array_equal(full, image)  # every pixel from its own run: no interpolation
    half = shifted_predict(anchors, image[None], steps=4).numpy()[0]
    expected = image[(np.arange(21) // 2) * 2][:, (np.arange(30) // 2) * 2]  # 2x2 blocks share a cell
    np.testing.assert_array_equal(half, expected)
    with pytest.raises(ValueError, match="must divide output_stride"):
        shifted_predict(anchors, image, steps=3)


def test_shifted_predict_on_relationnet_scores():
    import kseg
    from kseg.inference import shifted_predict, stride_logits_model

    blocks = ((1, (8, 8)), (1, (8, 8)), (1, (8, 8)), (1, (8, 8)), (1, (8, 8, 8)), (1, (8, 8, 8)))
    model = kseg.models.RelationNet(num_classes=3, hidden_size=2, reduce_filters=4, backbone_blocks=blocks)
    scores = stride_logits_model(model)
    image = np.random.default_rng(1).uniform(0, 255, (1, 24, 32, 3)).astype("float32")
    out = shifted_predict(scores, image, steps=2).numpy()
    assert out.shape == (1, 24, 32, 3)
    np.testing.assert_allclose(out[:, ::8, ::8], scores(image).numpy(), atol=1e-5)  # the unshifted run's cells
