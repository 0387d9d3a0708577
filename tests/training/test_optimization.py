"""The optimizer section as Keras objects (issue 32, item 3): each schedule's learning rate at
chosen steps against its formula, the warmup in front of any of them, AdamW with the
multipliers, label smoothing, and keys that a choice makes meaningless refused by name."""

import math

import keras
import numpy as np
import pytest

from kseg.training.config import ConfigError, load_config
from kseg.training.optimization import build_optimizer, build_schedule, training_steps
from kseg.training.optimizers import MultipliedAdamW
from kseg.training.schedules import LinearWarmup

STEPS = 1000


def _rates(overrides, steps=(0, 1, 50, 99, 100, 101, 499, 500, 749, 750, 999, 1000)):
    schedule = build_schedule(load_config(overrides=["optimizer.learning_rate=0.1", "optimizer.warmup_steps=0"] + overrides), STEPS)
    return {step: float(schedule(step)) for step in steps}


def test_poly_cosine_and_step_follow_their_formulas():
    poly = _rates(["optimizer.power=0.9", "optimizer.end_learning_rate=0.001"])
    cosine = _rates(["optimizer.schedule=cosine", "optimizer.end_learning_rate=0.001"])
    step = _rates(["optimizer.schedule=step", "optimizer.step_milestones=[0.5, 0.75]", "optimizer.step_gamma=0.2"])
    for t in poly:
        expected_poly = (0.1 - 0.001) * (1 - min(t, STEPS) / STEPS) ** 0.9 + 0.001
        expected_cosine = 0.001 + (0.1 - 0.001) * 0.5 * (1 + math.cos(math.pi * min(t, STEPS) / STEPS))
        expected_step = 0.1 * 0.2 ** ((t > 500) + (t > 750))  # Keras: the new value applies after the boundary
        assert poly[t] == pytest.approx(expected_poly, rel=1e-5, abs=1e-9)
        assert cosine[t] == pytest.approx(expected_cosine, rel=1e-5, abs=1e-9)
        assert step[t] == pytest.approx(expected_step, rel=1e-6)


@pytest.mark.parametrize("schedule", ["poly", "cosine", "step"])
def test_a_linear_warmup_goes_in_front_of_any_schedule(schedule):
    plain = _rates([f"optimizer.schedule={schedule}"])
    warm = _rates([f"optimizer.schedule={schedule}", "optimizer.warmup_steps=100"])
    for t in plain:
        expected = plain[100] * t / 100 if t < 100 else plain[t]  # up to the schedule's own rate at step 100
        assert warm[t] == pytest.approx(expected, rel=1e-5, abs=1e-12)
    config = LinearWarmup.from_config(keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(
        build_schedule(load_config(overrides=["optimizer.schedule=cosine", "optimizer.warmup_steps=10"]), 100)
    )).get_config())
    assert config.warmup_steps == 10 and float(config(5)) == pytest.approx(0.5 * float(config.schedule(10)))


def test_a_warmup_as_long_as_the_run_is_refused_by_name():
    # Its rate would never leave the warmup (with a decay over as few steps, it would stay 0).
    message = r"^optimizer.warmup_steps=100 is not below the run's 100 training steps: the learning rate would never leave"
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=["optimizer.warmup_steps=100", "train.steps=100"])
    # With train.epochs the steps are known once the split is counted.
    config = load_config(overrides=["optimizer.warmup_steps=100", "train.steps=null", "train.epochs=2", "data.batch_size=8"])
    assert training_steps(config, 401) == 101
    with pytest.raises(ConfigError, match=r"warmup_steps=100 is not below the run's 100 training steps"):
        training_steps(config, 400)


def _step(optimizer):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, name="classifier")(keras.layers.Dense(5, name="body")(inputs)))
    model.compile(optimizer=optimizer, loss="mse")
    optimizer.build(model.trainable_variables)
    before = {v.path: v.numpy().copy() for v in model.trainable_variables}
    x = np.random.RandomState(1).normal(size=(8, 4)).astype("float32")
    model.train_on_batch(x, np.random.RandomState(2).normal(size=(8, 3)).astype("float32"))
    return {v.path: v.numpy() - before[v.path] for v in model.trainable_variables}, before


def test_adamw_decays_kernels_decoupled_and_takes_the_multipliers():
    config = load_config(overrides=["optimizer.name=adamw", "optimizer.weight_decay=0.5", "optimizer.learning_rate=0.01", "optimizer.warmup_steps=0",
                                    "optimizer.lr_multipliers={'^classifier/': 3}"])
    optimizer = build_optimizer(config, STEPS)
    assert isinstance(optimizer, MultipliedAdamW) and optimizer.weight_decay == 0.5
    moved, before = _step(optimizer)
    undecayed, _ = _step(MultipliedAdamW(0.01, weight_decay=0.0, lr_multipliers={"^classifier/": 3}))
    plain, _ = _step(MultipliedAdamW(0.01, weight_decay=0.0))
    lr = float(build_schedule(config, STEPS)(0))
    for path, delta in moved.items():
        factor = 3.0 if path.startswith("classifier/") else 1.0
        np.testing.assert_allclose(undecayed[path], factor * plain[path], rtol=1e-5, atol=1e-7)  # Adam's step scaled
        decay = -lr * 0.5 * before[path] if path.endswith("kernel") else 0.0  # decoupled, kernels only, base rate
        np.testing.assert_allclose(delta, undecayed[path] + decay, rtol=1e-4, atol=1e-7)
    clone = MultipliedAdamW.from_config(optimizer.get_config())
    assert clone.lr_multipliers == {"^classifier/": 3.0}


def test_label_smoothing_is_the_smoothed_targets_cross_entropy():
    import kseg

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (2, 5, 4, 3)).astype("float32")
    labels = rng.integers(0, 3, (2, 5, 4))
    labels[0, 0] = 255
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    valid = labels != 255
    targets = 0.9 * np.eye(3)[np.where(valid, labels, 0)] + 0.1 / 3
    expected = -(targets * log_p).sum(-1)[valid].mean()
    loss = kseg.losses.MaskedSparseCategoricalCrossentropy(label_smoothing=0.1)
    assert float(loss(labels, logits)) == pytest.approx(expected, rel=1e-5)
    weighted = kseg.losses.MaskedSparseCategoricalCrossentropy(label_smoothing=0.1, class_weights=[1.0, 2.0, 0.5])
    w = np.array([1.0, 2.0, 0.5])[np.where(valid, labels, 0)]
    assert float(weighted(labels, logits)) == pytest.approx(((-(targets * log_p).sum(-1)) * w)[valid].sum() / w[valid].sum(), rel=1e-5)
    from kseg.training.tasks import get_task

    assert get_task(load_config(overrides=["train.loss=cross_entropy", "train.label_smoothing=0.1"])).build_loss().label_smoothing == 0.1


@pytest.mark.parametrize("overrides, message", [
    (["optimizer.schedule=cosine", "optimizer.hold_fraction=0.5"], r"optimizer.hold_fraction=0.5 is not used with optimizer.schedule='cosine' \(only with poly\)"),
    (["optimizer.step_gamma=0.5"], r"optimizer.step_gamma=0.5 is not used with optimizer.schedule='poly' \(only with step\)"),
    (["optimizer.name=adamw", "optimizer.nesterov=true"], r"optimizer.nesterov=true is not used with optimizer.name='adamw'"),
    (["train.label_smoothing=0.1", "train.loss=dice"], r"train.label_smoothing=0.1 is not used: train.loss='dice' has no cross_entropy term"),
    (["train.loss=cross_entropy", "train.focal_gamma=1.0"], r"train.focal_gamma=1.0 is not used: train.loss='cross_entropy' has no focal term"),
    (["optimizer.step_milestones=[0.8, 0.4]"], r"optimizer.step_milestones must be an increasing list of numbers in \(0, 1\)"),
    (["optimizer.schedule=linear"], r"optimizer.schedule must be one of"),
])
def test_keys_a_choice_makes_meaningless_are_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=overrides)
