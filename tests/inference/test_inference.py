import numpy as np
import pytest

from kseg.inference import refine
from kseg.layers import ConvCRF, DenseCRF


def _inputs(seed=0):
    rng = np.random.RandomState(seed)
    return rng.randn(2, 16, 20, 4).astype("float32"), rng.randint(0, 255, (2, 16, 20, 3)).astype("uint8")


@pytest.mark.parametrize("crf, layer", [("dense", DenseCRF), ("conv", ConvCRF)])
def test_refine_equals_the_layer(crf, layer):
    logits, image = _inputs()
    expected = layer(num_iterations=3)([logits, image]).numpy()
    np.testing.assert_allclose(refine(logits, image, crf=crf, num_iterations=3).numpy(), expected, atol=1e-6)
    single = refine(logits[0], image[0], crf=crf, num_iterations=3).numpy()
    assert single.shape == (16, 20, 4)
    np.testing.assert_allclose(single, expected[0], atol=1e-5)


def test_refine_bad_arguments():
    logits, image = _inputs()
    with pytest.raises(ValueError, match=r"Unknown crf 'grabcut'. Expected one of \['conv', 'dense'\]"):
        refine(logits, image, crf="grabcut")
    with pytest.raises(ValueError, match="Expected logits"):
        refine(logits[0, 0], image[0, 0])
    with pytest.raises(ValueError, match="num_iterations >= 1"):
        refine(logits, image, num_iterations=0)


class _PositionModel:
    """A model whose logits are a known function of the pixel: class 0 score = column
    index / 10, class 1 score = red channel / 100 (fully convolutional, hand-checkable)."""

    def __call__(self, x, training=False):
        x = tf.convert_to_tensor(x, tf.float32)
        cols = tf.cast(tf.range(tf.shape(x)[2]), tf.float32)[None, None, :, None]
        col_score = tf.broadcast_to(cols / 10.0, tf.shape(x[..., :1]))
        return tf.concat([col_score, x[..., :1] / 100.0], axis=-1)


import tensorflow as tf  # noqa: E402

from kseg.inference import predict_multi_scale, predict_sliding_window  # noqa: E402


def test_multi_scale_identity_cases():
    image = np.random.RandomState(0).uniform(0, 255, (9, 12, 3)).astype("float32")
    model = _PositionModel()
    logits = model(image[None]).numpy()[0]
    # One scale, no flip, max fusion: exactly the model.
    np.testing.assert_allclose(predict_multi_scale(model, image, (1.0,), fusion="max").numpy(), logits, atol=1e-6)
    # Mean fusion returns the softmax.
    probs = predict_multi_scale(model, image, (1.0,)).numpy()
    np.testing.assert_allclose(probs, tf.nn.softmax(logits).numpy(), atol=1e-6)
    # Flip: the column score of the mirrored run, mirrored back, is (W - 1 - col) / 10;
    # max fusion keeps the larger of col and W-1-col.
    both = predict_multi_scale(model, image, (1.0,), flip=True, fusion="max").numpy()
    cols = np.arange(12)
    np.testing.assert_allclose(both[0, :, 0], np.maximum(cols, 11 - cols) / 10.0, atol=1e-6)
    # A scale of 2 then bilinear back: output keeps the input size.
    assert predict_multi_scale(model, image[None], (0.5, 2.0), flip=True).shape == (1, 9, 12, 2)


def test_sliding_window_equals_plain_inference_when_the_window_covers_the_image():
    image = np.random.RandomState(1).uniform(0, 255, (2, 10, 14, 3)).astype("float32")
    model = _PositionModel()
    np.testing.assert_allclose(
        predict_sliding_window(model, image, (10, 14), 5).numpy(), model(image).numpy(), atol=1e-6
    )


def test_sliding_window_hand_checked_columns():
    # Width 10, windows of 4 at stride 3: starts 0, 3, 6 -> each window sees columns 0..3
    # of its own crop. Pixel 4 is covered by windows at 3 (local col 1) only: score 0.1.
    image = np.zeros((4, 10, 3), "float32")
    out = predict_sliding_window(_PositionModel(), image, (4, 4), 3).numpy()
    expected = np.array([0, 1, 2, (3 + 0) / 2, 1, 2, (3 + 0) / 2, 1, 2, 3]) / 10.0
    np.testing.assert_allclose(out[0, :, 0], expected, atol=1e-6)


def test_sliding_window_on_an_image_smaller_than_the_window():
    image = np.random.RandomState(2).uniform(0, 255, (5, 6, 3)).astype("float32")
    out = predict_sliding_window(_PositionModel(), image, 8, 4).numpy()
    assert out.shape == (5, 6, 2)
    np.testing.assert_allclose(out[..., 0], np.tile(np.arange(6) / 10.0, (5, 1)), atol=1e-6)
    np.testing.assert_allclose(out[..., 1], image[..., 0] / 100.0, atol=1e-5)


def test_tta_bad_arguments():
    image = np.zeros((4, 4, 3), "float32")
    with pytest.raises(ValueError, match="fusion in"):
        predict_multi_scale(_PositionModel(), image, fusion="median")
    with pytest.raises(ValueError, match="positive scales"):
        predict_multi_scale(_PositionModel(), image, scales=(0.0,))
    with pytest.raises(ValueError, match="window and stride >= 1"):
        predict_sliding_window(_PositionModel(), image, 4, 0)


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
