"""The "poly" learning-rate policy (DeepLab v2 §4.1.2, PAN §4)."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="kseg")
class PolyDecay(keras.optimizers.schedules.LearningRateSchedule):
    """`lr(step) = (initial - end) * (1 - step / decay_steps) ** power + end`, constant `end` after.

    DeepLab v2 and PAN use power 0.9 and end 0 ("the initial rate is multiplied by
    (1 - iter / max_iter) ** power").

    Args:
        initial_learning_rate: float.
        decay_steps: int > 0, usually the number of training iterations.
        power: float. Defaults to 0.9.
        end_learning_rate: float. Defaults to 0.
    """

    def __init__(self, initial_learning_rate, decay_steps, power=0.9, end_learning_rate=0.0):
        if int(decay_steps) <= 0:
            raise ValueError(f"Expected decay_steps > 0. Received: decay_steps={decay_steps}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = int(decay_steps)
        self.power = float(power)
        self.end_learning_rate = float(end_learning_rate)

    def __call__(self, step):
        step = tf.minimum(tf.cast(step, tf.float32), float(self.decay_steps))
        fraction = 1.0 - step / float(self.decay_steps)
        return (self.initial_learning_rate - self.end_learning_rate) * tf.pow(fraction, self.power) + self.end_learning_rate

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "power": self.power,
            "end_learning_rate": self.end_learning_rate,
        }
