import keras
import numpy as np
import pytest
import tensorflow as tf

from kseg.layers import ASPP, ASPP_PRESETS, ASPPV3
from tests.layer_case import run_layer_test, run_model_saving_test


def test_presets_are_the_papers():
    # DeepLab v2 §4.1.2 / Tab. 3.
    assert ASPP_PRESETS["S"] == (2, 4, 8, 12)
    assert ASPP_PRESETS["L"] == (6, 12, 18, 24)
    assert ASPP_PRESETS["LargeFOV"] == (12,)
    assert ASPP(rates="L").branch_rates == (6, 12, 18, 24)
    assert [b[0].rate for b in ASPP(rates="S").branches] == [2, 4, 8, 12]


def test_resnet_form_is_sum_of_atrous_branches():
    x = np.random.RandomState(0).randn(2, 30, 30, 16).astype("float32")
    aspp = ASPP(num_classes=5, rates="L")
    out = aspp(x).numpy()
    expected = sum(
        tf.nn.bias_add(tf.nn.atrous_conv2d(x, b[0].kernel, rate=r, padding="SAME"), b[0].bias).numpy()
        for b, r in zip(aspp.branches, (6, 12, 18, 24))
    )
    np.testing.assert_allclose(out, expected, atol=1e-4)


def test_vgg_form_branch_arithmetic():
    x = np.random.RandomState(1).randn(1, 20, 20, 8).astype("float32")
    aspp = ASPP(num_classes=3, rates=(2, 4), hidden_filters=6)
    out = aspp(x, training=False).numpy()
    expected = 0
    for branch, rate in zip(aspp.branches, (2, 4)):
        fc6, _, fc7, _, fc8 = branch
        h = np.maximum(tf.nn.atrous_conv2d(x, fc6.kernel, rate, "SAME").numpy() + fc6.bias.numpy(), 0)
        h = np.maximum(np.einsum("bhwc,cd->bhwd", h, fc7.kernel.numpy()[0, 0]) + fc7.bias.numpy(), 0)
        expected = expected + np.einsum("bhwc,cd->bhwd", h, fc8.kernel.numpy()[0, 0]) + fc8.bias.numpy()
    np.testing.assert_allclose(out, expected, atol=1e-4)


def test_resnet_form_layer_basics():
    run_layer_test(
        ASPP,
        {"num_classes": 4, "rates": "S"},
        np.random.rand(2, 12, 12, 8).astype("float32"),
        expected_output_shape=(2, 12, 12, 4),
        expected_num_trainable_weights=8,
    )


def test_vgg_form_layer_basics():
    run_layer_test(
        ASPP,
        {"num_classes": 4, "rates": (2, 3), "hidden_filters": 8, "dropout_rate": 0.5},
        np.random.rand(2, 10, 10, 6).astype("float32"),
        expected_output_shape=(2, 10, 10, 4),
        expected_num_trainable_weights=12,
    )


def test_vgg_form_parameter_count():
    # fc6 3x3x512x1024 + fc7 1x1x1024x1024 + fc8 1x1x1024x21, with biases, per branch.
    aspp = ASPP(num_classes=21, rates="L", hidden_filters=1024)
    aspp.build((None, None, None, 512))
    per_branch = (9 * 512 * 1024 + 1024) + (1024 * 1024 + 1024) + (1024 * 21 + 21)
    assert aspp.count_params() == 4 * per_branch


def test_aspp_v3_layer_basics():
    run_layer_test(
        ASPPV3,
        {"filters": 8, "rates": (1, 2, 3)},
        np.random.rand(2, 9, 9, 6).astype("float32"),
        expected_output_shape=(2, 9, 9, 8),
        # 5 convs (1x1, three atrous, pooling, projection => 6) x (kernel, gamma, beta)
        expected_num_trainable_weights=18,
        expected_num_non_trainable_weights=12,
    )


def test_aspp_v3_image_pooling_branch_is_constant_over_space():
    aspp = ASPPV3(filters=4, rates=(1, 2, 3), dropout_rate=0.0)
    x = np.random.rand(1, 7, 7, 3).astype("float32")
    aspp(x)
    pooled = aspp.pool_conv(tf.reduce_mean(x, axis=[1, 2], keepdims=True), training=False)
    assert pooled.shape == (1, 1, 1, 4)
    no_pool = ASPPV3(filters=4, rates=(1, 2, 3), image_pooling=False)
    no_pool(x)
    assert len(no_pool.trainable_weights) == 15


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rates": "XL"}, "Unknown ASPP preset 'XL'"),
        ({"rates": ()}, "non-empty sequence of rates"),
        ({"num_classes": 1}, "num_classes >= 2"),
        ({"dropout_rate": 1.0}, "dropout_rate"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ASPP(**kwargs)


def test_save_and_load(tmp_path):
    inputs = keras.Input((None, None, 8))
    x = ASPPV3(filters=8, rates=(2, 4, 6))(inputs)
    model = keras.Model(inputs, ASPP(num_classes=3, rates="S", hidden_filters=4)(x))
    run_model_saving_test(model, np.random.rand(1, 16, 16, 8).astype("float32"), tmp_path)
