"""Run alone (needs its own process for two logical CPUs): prints the largest difference in a
BN layer's moving variance, relative to its largest value, between one replica on a batch of 8
and two replicas on 4 each, with `sync` and with per-replica (`train`) statistics.

The replicas reduce through `ReductionToOneDevice`: with TF 2.21's default collective ops on
logical CPUs, the BN all-reduce and the gradient all-reduce can be issued in different orders
on the two devices and abort with a shape mismatch."""

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from kseg.training.batch_norm import apply_batch_norm_policy  # noqa: E402


def build(policy):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.BatchNormalization(momentum=0.0, name="bn")(x)  # moving stats = last batch's
    outputs = keras.layers.Conv2D(2, 1)(x)
    model = keras.Model(inputs, outputs)
    apply_batch_norm_policy(policy, model)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    return model


rng = np.random.RandomState(0)
x = rng.normal(size=(8, 8, 8, 3)).astype("float32") * np.arange(1, 9, dtype="float32")[:, None, None, None]
y = rng.normal(size=(8, 8, 8, 2)).astype("float32")
single = build("train")
single.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
reference = single.get_layer("bn").moving_variance.numpy()
for policy, label in (("sync", "sync"), ("train", "per_replica")):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"], cross_device_ops=tf.distribute.ReductionToOneDevice())
    with strategy.scope():
        model = build(policy)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    difference = np.abs(model.get_layer("bn").moving_variance.numpy() - reference).max() / np.abs(reference).max()
    print(f"{label}={difference:.3e}")
