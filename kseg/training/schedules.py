"""The "poly" learning-rate policy (DeepLab v2 §4.1.2, PAN §4), with an optional constant
stretch first (RelationNet §III-D: constant, then linear decay), and a linear warmup in
front of any schedule. Cosine and step schedules are Keras's own (`kseg.training.optimization`)."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="kseg")
class PolyDecay(keras.optimizers.schedules.LearningRateSchedule):
    """`lr(step) = initial` for `step < hold_steps`, then
    `(initial - end) * (1 - t / decay_steps) ** power + end` with `t = step - hold_steps`,
    and `end` once `t >= decay_steps`.

    DeepLab v2 and PAN use power 0.9, end 0 and no hold ("the initial rate is multiplied by
    (1 - iter / max_iter) ** power"). RelationNet (§III-D) holds 5e-4 for 35 of 60 epochs,
    then decays linearly (power 1) to 5e-6 over the last 25.

    Args:
        initial_learning_rate: float.
        decay_steps: int > 0: length of the decay, usually the training iterations after the hold.
        power: float. Defaults to 0.9.
        end_learning_rate: float. Defaults to 0.
        hold_steps: int >= 0. Steps at `initial_learning_rate` before the decay. Defaults to 0.
    """

    def __init__(self, initial_learning_rate, decay_steps, power=0.9, end_learning_rate=0.0, hold_steps=0):
        if int(decay_steps) <= 0:
            raise ValueError(f"Expected decay_steps > 0. Received: decay_steps={decay_steps}")
        if int(hold_steps) < 0:
            raise ValueError(f"Expected hold_steps >= 0. Received: hold_steps={hold_steps}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = int(decay_steps)
        self.power = float(power)
        self.end_learning_rate = float(end_learning_rate)
        self.hold_steps = int(hold_steps)

    def __call__(self, step):
        step = tf.cast(step, tf.float32) - float(self.hold_steps)
        step = tf.clip_by_value(step, 0.0, float(self.decay_steps))
        fraction = 1.0 - step / float(self.decay_steps)
        return (self.initial_learning_rate - self.end_learning_rate) * tf.pow(fraction, self.power) + self.end_learning_rate

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "power": self.power,
            "end_learning_rate": self.end_learning_rate,
            "hold_steps": self.hold_steps,
        }


@keras.saving.register_keras_serializable(package="kseg")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """`schedule` with a linear warmup in front (Goyal et al. 2017; the TF Model Garden's
    `LinearWarmup`): `lr(step) = schedule(warmup_steps) * step / warmup_steps` for
    `step < warmup_steps`, then `schedule(step)`: the schedule keeps its own clock.

    Args:
        schedule: a `LearningRateSchedule` (or its serialized config).
        warmup_steps: int >= 1.
    """

    def __init__(self, schedule, warmup_steps):
        if int(warmup_steps) < 1:
            raise ValueError(f"Expected warmup_steps >= 1. Received: warmup_steps={warmup_steps}")
        self.schedule = keras.optimizers.schedules.deserialize(schedule) if isinstance(schedule, dict) else schedule
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        target = tf.cast(self.schedule(self.warmup_steps), tf.float32)
        return tf.where(step < self.warmup_steps, target * step / self.warmup_steps, tf.cast(self.schedule(step), tf.float32))

    def get_config(self):
        return {"schedule": keras.optimizers.schedules.serialize(self.schedule), "warmup_steps": self.warmup_steps}
