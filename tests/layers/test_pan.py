import keras
import numpy as np
import pytest
import tensorflow as tf

from kseg.layers import FeaturePyramidAttention, GlobalAttentionUpsample
from tests.layer_case import run_layer_test, run_model_saving_test


def _conv_bn(layer, x, relu):
    """Reference for an ConvBNActivation with BN at inference, from its weights."""
    y = tf.nn.conv2d(x, layer.kernel, 1, "SAME").numpy()
    bn = layer.bn
    y = (y - bn.moving_mean.numpy()) / np.sqrt(bn.moving_variance.numpy() + bn.epsilon) * bn.gamma.numpy()
    y = y + bn.beta.numpy()
    return np.maximum(y, 0) if relu else y


def _resize(x, size):
    return tf.image.resize(x, size, method="bilinear").numpy()


def _avg_pool(x):
    return tf.nn.avg_pool2d(x, 2, 2, "SAME").numpy()


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _randomize_bn(layer, seed):
    rng = np.random.RandomState(seed)
    for weight in layer.weights:
        if "moving_variance" in weight.path or "gamma" in weight.path:
            weight.assign(rng.uniform(0.5, 1.5, weight.shape).astype("float32"))
        elif "moving_mean" in weight.path or "beta" in weight.path:
            weight.assign(rng.uniform(-0.3, 0.3, weight.shape).astype("float32"))


def test_fpa_defaults_are_the_papers_best_setting():
    fpa = FeaturePyramidAttention()
    # Tab. 1 best row: C357 + AVE + GP.
    assert fpa.kernel_sizes == (7, 5, 3)
    assert [layer.kernel_size for layer in fpa.down] == [7, 5, 3]
    assert fpa.pooling == "average" and all(isinstance(p, keras.layers.AveragePooling2D) for p in fpa.pools)
    assert fpa.global_pooling and fpa.global_conv is not None


def test_fpa_matches_reference_computation():
    x = np.random.RandomState(0).randn(2, 16, 12, 10).astype("float32")
    fpa = FeaturePyramidAttention(filters=6)
    out = fpa(x, training=False).numpy()
    _randomize_bn(fpa, 1)
    out = fpa(x, training=False).numpy()

    d1 = _conv_bn(fpa.down[0], _avg_pool(x), relu=True)  # 1/2: 8x6
    d2 = _conv_bn(fpa.down[1], _avg_pool(d1), relu=True)  # 1/4: 4x3
    d3 = _conv_bn(fpa.down[2], _avg_pool(d2), relu=True)  # 1/8: 2x2
    assert d1.shape[1:3] == (8, 6) and d2.shape[1:3] == (4, 3) and d3.shape[1:3] == (2, 2)
    m = _conv_bn(fpa.lateral[2], d3, relu=False)
    m = _conv_bn(fpa.lateral[1], d2, relu=False) + _resize(m, (4, 3))
    m = _conv_bn(fpa.lateral[0], d1, relu=False) + _resize(m, (8, 6))
    attention = _sigmoid(_resize(m, (16, 12)))
    master = _conv_bn(fpa.master, x, relu=True)
    context = _conv_bn(fpa.global_conv, x.mean(axis=(1, 2), keepdims=True), relu=True)
    np.testing.assert_allclose(out, master * attention + context, atol=1e-4)


def test_gau_matches_reference_computation():
    rng = np.random.RandomState(2)
    high = rng.randn(2, 5, 7, 6).astype("float32")
    low = rng.randn(2, 10, 13, 4).astype("float32")
    gau = GlobalAttentionUpsample(filters=6)
    gau([high, low])
    _randomize_bn(gau, 3)
    out = gau([high, low], training=False).numpy()
    context = _sigmoid(_conv_bn(gau.context_conv, high.mean(axis=(1, 2), keepdims=True), relu=False))
    expected = _resize(high, (10, 13)) + _conv_bn(gau.low_conv, low, relu=True) * context
    np.testing.assert_allclose(out, expected, atol=1e-4)
    assert gau.low_conv.kernel.shape == (3, 3, 4, 6)  # Tab. 3 best: 3x3 conv on low-level features


def test_fpa_layer_basics():
    run_layer_test(
        FeaturePyramidAttention,
        {"filters": 8, "kernel_sizes": (7, 5, 3)},
        np.random.rand(2, 16, 16, 12).astype("float32"),
        expected_output_shape=(2, 16, 16, 8),
        # 6 pyramid convs + master + global, each (kernel, gamma, beta)
        expected_num_trainable_weights=24,
        expected_num_non_trainable_weights=16,
    )


def test_fpa_variants():
    x = np.random.rand(1, 9, 11, 12).astype("float32")
    assert FeaturePyramidAttention(8, pyramid_filters=1)(x).shape == (1, 9, 11, 8)
    assert FeaturePyramidAttention(8, global_fusion="concat")(x).shape == (1, 9, 11, 16)
    assert FeaturePyramidAttention(8, pooling="max", global_pooling=False, attention_activation="relu")(x).shape == (
        1, 9, 11, 8,
    )
    assert FeaturePyramidAttention(8)(np.random.rand(1, 1, 1, 12).astype("float32")).shape == (1, 1, 1, 8)


def test_gau_layer_basics():
    run_layer_test(
        GlobalAttentionUpsample,
        {"filters": 8},
        [np.random.rand(2, 4, 4, 8).astype("float32"), np.random.rand(2, 8, 8, 5).astype("float32")],
        expected_output_shape=(2, 8, 8, 8),
        expected_num_trainable_weights=6,
        expected_num_non_trainable_weights=4,
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"filters": 8, "pyramid_filters": 3}, "pyramid_filters of 1 or filters"),
        ({"pooling": "median"}, "pooling in"),
        ({"kernel_sizes": (3, 3)}, "3 kernel sizes"),
        ({"global_fusion": "mul"}, "global_fusion in"),
    ],
)
def test_fpa_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FeaturePyramidAttention(**kwargs)


def test_gau_rejects_high_level_width_mismatch():
    with pytest.raises(ValueError, match="high-level features with filters=8"):
        GlobalAttentionUpsample(8)([np.zeros((1, 4, 4, 5), "float32"), np.zeros((1, 8, 8, 5), "float32")])


def test_save_and_load(tmp_path):
    high_in = keras.Input((None, None, 12))
    low_in = keras.Input((None, None, 5))
    x = FeaturePyramidAttention(8)(high_in)
    model = keras.Model([high_in, low_in], GlobalAttentionUpsample(8)([x, low_in]))
    rng = np.random.RandomState(0)
    run_model_saving_test(
        model, [rng.rand(1, 8, 8, 12).astype("float32"), rng.rand(1, 16, 16, 5).astype("float32")], tmp_path
    )
