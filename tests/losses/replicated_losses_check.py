"""Run alone (needs its own process for two logical CPUs): prints, as JSON, for each kseg
segmentation loss, the largest difference between one SGD step under a two-replica
MirroredStrategy (a batch of 4, 2 a replica) and the mean of the two half-batch gradients
computed in one process (data-parallel semantics: the replicas' losses are shares of one
mean, not counted once each)."""

import json

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

import kseg  # noqa: E402

LOSSES = {
    "cross_entropy": lambda: kseg.losses.MaskedSparseCategoricalCrossentropy(),
    "weighted_cross_entropy": lambda: kseg.losses.MaskedSparseCategoricalCrossentropy(class_weights=[1.0, 2.0, 0.5]),
    "ohem": lambda: kseg.losses.OHEMCrossEntropy(threshold=0.7, min_kept=4),
    "focal": lambda: kseg.losses.FocalLoss(),
    "dice": lambda: kseg.losses.DiceLoss(),
    "tversky": lambda: kseg.losses.TverskyLoss(),
    "lovasz": lambda: kseg.losses.LovaszSoftmaxLoss(),
    "sum": lambda: kseg.losses.WeightedSumLoss([kseg.losses.MaskedSparseCategoricalCrossentropy(), kseg.losses.DiceLoss()], [1.0, 0.5]),
}


def model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 2))
    return keras.Model(inputs, keras.layers.Conv2D(3, 1, name="head")(inputs))


def main():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 6, 6, 2)).astype("float32")
    y = rng.integers(0, 3, (4, 6, 6)).astype("int32")
    y[:, 0] = 255
    strategy = tf.distribute.MirroredStrategy(cross_device_ops=tf.distribute.ReductionToOneDevice())
    found = {}
    for name, make in LOSSES.items():
        reference = model()
        gradients = []
        for half in (slice(0, 2), slice(2, 4)):
            with tf.GradientTape() as tape:
                value = make()(y[half], reference(x[half]))
            gradients.append(tape.gradient(value, reference.trainable_variables))
        expected = [w.numpy() - 0.1 * (a.numpy() + b.numpy()) / 2 for w, a, b in zip(reference.trainable_variables, *gradients)]
        with strategy.scope():
            replicated = model()
            replicated.compile(optimizer=keras.optimizers.SGD(0.1), loss=make())
        replicated.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(4), epochs=1, verbose=0, shuffle=False)
        found[name] = max(float(np.abs(w.numpy() - e).max()) for w, e in zip(replicated.trainable_variables, expected))
    print(json.dumps(found))


if __name__ == "__main__":
    main()
