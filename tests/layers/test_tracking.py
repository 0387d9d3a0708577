"""Sub-layers kept in lists and dicts are checkpoint dependencies (kseg/layers/tracking.py):
without the mixin, `tf.train.Checkpoint` leaves their variables out (keras-team/keras#18398)."""

import keras
import numpy as np
import tensorflow as tf

from kseg.layers.tracking import ContainerTracking


class _Branches(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.convs = [keras.layers.Dense(2, name=f"d{i}") for i in range(2)]
        self.heads = {"a": [keras.layers.Dense(1, name="a")]}

    def call(self, x):
        return self.heads["a"][0](self.convs[1](self.convs[0](x)))


class _TrackedBranches(ContainerTracking, _Branches):
    pass


def _round_trip(layer_class, tmp_path):
    """(weights after restoring a checkpoint into a fresh layer, the saved weights)."""
    keras.utils.set_random_seed(0)
    saved = layer_class()
    saved(np.ones((1, 3), "float32"))
    path = tf.train.Checkpoint(layer=saved).write(str(tmp_path / layer_class.__name__))
    keras.utils.set_random_seed(1)
    fresh = layer_class()
    fresh(np.ones((1, 3), "float32"))
    tf.train.Checkpoint(layer=fresh).read(path).expect_partial()
    return fresh.get_weights(), saved.get_weights()


def test_list_and_dict_sub_layers_survive_a_checkpoint_round_trip(tmp_path):
    restored, saved = _round_trip(_TrackedBranches, tmp_path)
    for a, b in zip(restored, saved):
        np.testing.assert_array_equal(a, b)
    children = _TrackedBranches()._trackable_children("checkpoint")
    assert {"convs/0", "convs/1", "heads/a/0"} <= set(children)  # the names written and read
