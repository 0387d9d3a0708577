"""PolyDecay (the papers' poly schedule, with RelationNet's hold) in kseg/training/schedules.py."""

import json

import keras
import pytest

from kseg.training import PolyDecay


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
