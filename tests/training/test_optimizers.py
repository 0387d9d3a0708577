"""CoupledWeightDecaySGD (the papers' Caffe-form SGD) and the per-variable learning-rate
multipliers (kseg/training/optimizers.py)."""

import json

import keras
import numpy as np
import pytest

from kseg.training import CoupledWeightDecaySGD, PolyDecay


@pytest.mark.parametrize("nesterov", [False, True])
def test_update_equals_the_coupled_caffe_form(nesterov):
    rng = np.random.RandomState(0)
    w0 = rng.randn(3, 4).astype("float32")
    b0 = rng.randn(4).astype("float32")
    grads = [(rng.randn(3, 4).astype("float32"), rng.randn(4).astype("float32")) for _ in range(3)]
    lr, mu, l2 = 0.1, 0.9, 5e-4
    kernel, bias = keras.Variable(w0), keras.Variable(b0)
    opt = CoupledWeightDecaySGD(learning_rate=lr, momentum=mu, nesterov=nesterov, l2=l2)
    w, b = w0.astype(np.float64), b0.astype(np.float64)
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    for gw, gb in grads:
        opt.apply_gradients([(gw, kernel), (gb, bias)])
        gw = gw + l2 * w  # the kernel is decayed, the bias (rank 1) is not
        vw = mu * vw - lr * gw
        vb = mu * vb - lr * gb
        w = w + (mu * vw - lr * gw if nesterov else vw)
        b = b + (mu * vb - lr * gb if nesterov else vb)
    np.testing.assert_allclose(kernel.numpy(), w, atol=1e-5)
    np.testing.assert_allclose(bias.numpy(), b, atol=1e-5)


def test_coupled_differs_from_keras_decoupled_weight_decay():
    w0 = np.ones((2, 2), "float32")
    g = np.zeros((2, 2), "float32")
    coupled, decoupled = keras.Variable(w0), keras.Variable(w0)
    a = CoupledWeightDecaySGD(learning_rate=0.1, momentum=0.9, l2=0.01)
    b = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, weight_decay=0.01)
    for _ in range(3):
        a.apply_gradients([(g, coupled)])
        b.apply_gradients([(g, decoupled)])
    assert not np.allclose(coupled.numpy(), decoupled.numpy(), atol=1e-6)


def test_decay_all_and_config():
    bias = keras.Variable(np.ones(3, "float32"))
    opt = CoupledWeightDecaySGD(learning_rate=1.0, momentum=0.0, l2=0.5, decay_all=True)
    opt.apply_gradients([(np.zeros(3, "float32"), bias)])
    np.testing.assert_allclose(bias.numpy(), 0.5)
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(
        CoupledWeightDecaySGD(learning_rate=PolyDecay(0.01, 100), l2=1e-4, nesterov=True)
    )))
    clone = keras.saving.deserialize_keras_object(config)
    assert clone.l2 == 1e-4 and clone.nesterov and isinstance(clone._learning_rate, PolyDecay)


def test_rejects_keras_weight_decay_and_negative_l2():
    with pytest.raises(ValueError, match="decoupled weight_decay is not supported"):
        CoupledWeightDecaySGD(weight_decay=1e-4)
    with pytest.raises(ValueError, match="l2 >= 0"):
        CoupledWeightDecaySGD(l2=-1.0)


def _two_layer_step(lr_multipliers, schedule=None, start=0):
    """How one SGD step (the optimizer at iteration `start`) on a fixed batch moves each
    weight of a two-dense model."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(3, name="classifier")(keras.layers.Dense(5, name="body")(inputs))
    model = keras.Model(inputs, outputs)
    optimizer = CoupledWeightDecaySGD(schedule or 0.01, momentum=0.9, l2=5e-4, lr_multipliers=lr_multipliers)
    model.compile(optimizer=optimizer, loss="mse")
    optimizer.build(model.trainable_variables)
    optimizer.iterations.assign(start)
    x = np.random.RandomState(1).normal(size=(8, 4)).astype("float32")
    y = np.random.RandomState(2).normal(size=(8, 3)).astype("float32")
    before = {v.path: v.numpy().copy() for v in model.trainable_variables}
    model.train_on_batch(x, y)
    return {path: model.get_layer(path.split("/")[0]).get_weights()[path.endswith("bias")] - value for path, value in before.items()}


def test_lr_multiplier_moves_its_layer_exactly_that_many_times_further():
    plain = _two_layer_step(None)
    tenfold = _two_layer_step({"^classifier/": 10.0})
    for path in plain:
        factor = 10.0 if path.startswith("classifier/") else 1.0
        # Deltas of float32 weights of magnitude ~1: exact up to their rounding (2.4e-7).
        np.testing.assert_allclose(tenfold[path], factor * plain[path], rtol=0, atol=5e-7)
    assert np.abs(plain["classifier/kernel"]).max() > 1e-3


def test_lr_multiplier_follows_the_schedule():
    schedule = PolyDecay(0.01, 4, power=1.0)  # 0.01 at step 0, 0.005 at step 2
    first = _two_layer_step(None, schedule=schedule)
    plain = _two_layer_step(None, schedule=schedule, start=2)
    tenfold = _two_layer_step({"classifier": 10.0}, schedule=schedule, start=2)
    for path in first:
        np.testing.assert_allclose(plain[path], 0.5 * first[path], rtol=0, atol=5e-7)
    np.testing.assert_allclose(tenfold["classifier/kernel"], 10 * plain["classifier/kernel"], rtol=0, atol=5e-7)
    np.testing.assert_allclose(tenfold["body/kernel"], plain["body/kernel"], rtol=0, atol=0)
    assert CoupledWeightDecaySGD(schedule, lr_multipliers={"a": 2}).get_config()["lr_multipliers"] == {"a": 2.0}


def test_lr_multiplier_patterns_are_checked():
    with pytest.raises(ValueError, match=r"lr_multipliers: '\^nothing/' matches no trainable variable"):
        _two_layer_step({"^nothing/": 10.0})
    with pytest.raises(ValueError, match=r"'classifier/kernel' matches patterns with different factors \[2.0, 10.0\]"):
        _two_layer_step({"classifier": 10.0, "kernel": 2.0})
    with pytest.raises(ValueError, match=r"lr_multipliers: '\[' is not a regular expression"):
        CoupledWeightDecaySGD(0.01, lr_multipliers={"[": 2})
