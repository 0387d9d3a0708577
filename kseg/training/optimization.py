"""The optimizer section of a training config as Keras objects: the step count, the poly
schedule, SGD with the papers' coupled weight decay, Adam for discriminators."""

import math

import keras

from kseg.training.optimizers import CoupledWeightDecaySGD
from kseg.training.schedules import PolyDecay


def training_steps(config, num_train):
    """`train.steps`, or `train.epochs` passes over `num_train` examples in global batches."""
    train = config["train"]
    if train["steps"] is not None:
        return int(train["steps"])
    return max(1, math.ceil(train["epochs"] * num_train / config["data"]["batch_size"]))


def build_schedule(config, steps, initial_learning_rate=None):
    """The optimizer section's schedule over `steps`: `hold_fraction` of them at the initial
    rate, then poly decay (`power`; 1 = linear) to `end_learning_rate`."""
    opt = config["optimizer"]
    hold = int(round(float(opt["hold_fraction"]) * steps))
    return PolyDecay(
        opt["learning_rate"] if initial_learning_rate is None else initial_learning_rate,
        max(1, steps - hold),
        power=opt["power"],
        end_learning_rate=opt["end_learning_rate"],
        hold_steps=hold,
    )


def build_sgd(config, steps):
    """SGD with momentum and the coupled L2 term of the papers' Caffe/MXNet solvers."""
    opt = config["optimizer"]
    return CoupledWeightDecaySGD(
        learning_rate=build_schedule(config, steps), momentum=opt["momentum"], nesterov=opt["nesterov"],
        l2=opt["weight_decay"], lr_multipliers=opt["lr_multipliers"],
    )


def build_discriminator_adam(config, steps):
    """Adam for a discriminator (Seg-GAN §4.2), with the segmentation network's schedule shape."""
    adv = config["adversarial"]
    schedule = build_schedule(config, steps, initial_learning_rate=adv["d_learning_rate"])
    return keras.optimizers.Adam(learning_rate=schedule, beta_1=adv["d_beta_1"], beta_2=adv["d_beta_2"])
