import json

import keras
import numpy as np
import pytest

from kseg.training import CoupledWeightDecaySGD, PolyDecay


def test_poly_schedule_values_and_config():
    schedule = PolyDecay(4e-3, 1000, power=0.9)
    for step in (0, 1, 500, 999, 1000, 1500):
        expected = 4e-3 * (1 - min(step, 1000) / 1000) ** 0.9
        assert float(schedule(step)) == pytest.approx(expected, rel=2e-5, abs=1e-9)  # float32
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(schedule)))
    clone = keras.saving.deserialize_keras_object(config)
    assert isinstance(clone, PolyDecay) and float(clone(250)) == pytest.approx(float(schedule(250)))
    with pytest.raises(ValueError, match="decay_steps > 0"):
        PolyDecay(0.1, 0)


def test_hold_then_linear_schedule_is_relationnets():
    # RelationNet §III-D: 5e-4 for 35 "epochs", then linear to 5e-6 over the last 25.
    schedule = PolyDecay(5e-4, 25, power=1.0, end_learning_rate=5e-6, hold_steps=35)
    expected = {0: 5e-4, 34: 5e-4, 35: 5e-4, 40: 5e-4 - (5e-4 - 5e-6) * 5 / 25, 59: 5e-6 + (5e-4 - 5e-6) / 25, 60: 5e-6, 99: 5e-6}
    for step, value in expected.items():
        assert float(schedule(step)) == pytest.approx(value, rel=2e-5), step
    clone = keras.saving.deserialize_keras_object(json.loads(json.dumps(keras.saving.serialize_keras_object(schedule))))
    assert clone.hold_steps == 35 and float(clone(50)) == pytest.approx(float(schedule(50)))
    with pytest.raises(ValueError, match="hold_steps >= 0"):
        PolyDecay(0.1, 10, hold_steps=-1)


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
