"""FusedBatchNormalization computes what keras.layers.BatchNormalization computes: outputs,
moving statistics and gradients, in training and inference, float32 and bfloat16."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kseg.layers import FusedBatchNormalization


def _pair(dtype="float32", **kwargs):
    rng = np.random.default_rng(0)
    ours, theirs = FusedBatchNormalization(dtype=dtype, **kwargs), keras.layers.BatchNormalization(dtype=dtype, **kwargs)
    for layer in (ours, theirs):
        layer.build((None, None, None, 4))
    weights = [rng.uniform(0.5, 1.5, 4), rng.normal(size=4), rng.normal(size=4), rng.uniform(0.5, 2, 4)]
    for layer in (ours, theirs):
        layer.set_weights([w.astype("float32") for w in weights])
    return ours, theirs


def _run(layer, x, w, training):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=training)
        loss = tf.reduce_sum(tf.cast(y, tf.float32) * w) + tf.reduce_sum(tf.cast(y, tf.float32)[..., 0] ** 3)
    return y, tape.gradient(loss, [x, *layer.trainable_weights])


@pytest.mark.parametrize("training", [True, False])
def test_matches_keras_batch_norm(training):
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(2.0, 3.0, (3, 5, 6, 4)), tf.float32)
    w = tf.constant(rng.normal(size=(3, 5, 6, 4)), tf.float32)
    ours, theirs = _pair(momentum=0.7, epsilon=1.001e-5)
    (y, grads), (y_ref, grads_ref) = _run(ours, x, w, training), _run(theirs, x, w, training)
    np.testing.assert_allclose(y.numpy(), y_ref.numpy(), atol=2e-5)
    for g, g_ref in zip(grads, grads_ref):
        np.testing.assert_allclose(g.numpy(), g_ref.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.moving_mean.numpy(), theirs.moving_mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.moving_variance.numpy(), theirs.moving_variance.numpy(), rtol=1e-5)
    if training:
        assert not np.allclose(ours.moving_mean.numpy(), _pair()[0].moving_mean.numpy())  # the statistics moved


def test_bfloat16_activations_with_float32_statistics():
    x = tf.constant(np.random.default_rng(2).normal(1.0, 2.0, (2, 8, 8, 4)), tf.float32)
    ours, theirs = _pair(dtype="mixed_bfloat16")
    y, y_ref = ours(x, training=True), theirs(x, training=True)
    assert y.dtype == tf.bfloat16 and ours.moving_mean.dtype == "float32"
    np.testing.assert_allclose(tf.cast(y, tf.float32).numpy(), tf.cast(y_ref, tf.float32).numpy(), atol=0.05)
    np.testing.assert_allclose(ours.moving_variance.numpy(), theirs.moving_variance.numpy(), rtol=2e-2)


def test_cases_the_fused_kernel_does_not_cover_run_keras():
    x = tf.constant(np.random.default_rng(3).normal(size=(6, 4)), tf.float32)  # 2-D: not NHWC
    ours, theirs = FusedBatchNormalization(), keras.layers.BatchNormalization()
    np.testing.assert_allclose(ours(x, training=True).numpy(), theirs(x, training=True).numpy(), atol=1e-6)
    small = FusedBatchNormalization(epsilon=1e-6)  # below the fused kernel's floor
    image = tf.reshape(tf.range(48, dtype=tf.float32), (1, 4, 3, 4))
    reference = keras.layers.BatchNormalization(epsilon=1e-6)
    np.testing.assert_allclose(small(image, training=True).numpy(), reference(image, training=True).numpy(), atol=1e-5)


def test_keras_file_round_trip_and_saved_model_export(tmp_path):
    from tests.layer_case import run_model_saving_test

    inputs = keras.Input((None, None, 4))
    layer = FusedBatchNormalization(momentum=0.5)
    model = keras.Model(inputs, layer(inputs))
    x = np.random.default_rng(4).normal(1.0, 2.0, (2, 6, 5, 4)).astype("float32")
    model(x, training=True)  # moving statistics away from their initial values
    run_model_saving_test(model, [x], tmp_path)
    model.export(str(tmp_path / "exported"), format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "exported"))
    np.testing.assert_allclose(loaded.serve(x).numpy(), model(x, training=False).numpy(), atol=1e-5)


@pytest.mark.parametrize("training", [False, True])
def test_epsilon_below_the_kernel_floor_runs_fused(training):
    """Inference at any epsilon is exact (the difference goes into the variance); training at
    PyTorch's 1e-5 normalises with the kernel's 1.001e-5, and 1e-6 trains on Keras' path."""
    rng = np.random.default_rng(5)
    x = tf.constant(rng.normal(2.0, 3.0, (2, 5, 6, 4)), tf.float32)
    for epsilon, fused in ((1e-5, True), (1e-6, not training)):
        ours, theirs = _pair(epsilon=epsilon)
        if not training:
            ours.moving_variance.assign([1e-6, 1e-4, 1.0, 2.0])  # epsilon matters at small variances
            theirs.moving_variance.assign([1e-6, 1e-4, 1.0, 2.0])
        graph = tf.function(lambda t: ours(t, training=training)).get_concrete_function(tf.TensorSpec(x.shape)).graph
        assert ("FusedBatchNormV3" in {op.type for op in graph.get_operations()}) == fused, epsilon
        y, y_ref = ours(x, training=training).numpy(), theirs(x, training=training).numpy()
        np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5 * np.abs(y_ref).max())
