"""The optimizer section of a training config as Keras objects: the step count, the
schedule (poly, cosine or step, with an optional warmup), SGD with the papers' coupled
weight decay or AdamW, Adam for discriminators."""

import math

import keras

from kseg.training.optimizers import CoupledWeightDecaySGD, MultipliedAdamW
from kseg.training.schema import check_warmup
from kseg.training.schedules import LinearWarmup, PolyDecay


def training_steps(config, num_train):
    """`train.steps`, or `train.epochs` passes over `num_train` examples in global batches."""
    train = config.train
    if train.steps is not None:
        steps = int(train.steps)
    else:
        steps = max(1, math.ceil(train.epochs * num_train / config.data.batch_size))
    check_warmup(config.optimizer.warmup_steps, steps)
    return steps


def _decay(opt, steps, initial):
    """The schedule `optimizer.schedule` names over `steps`, from the rate `initial`."""
    if opt.schedule == "cosine":
        end = float(opt.end_learning_rate)
        alpha = end / initial if initial > 0 else 0.0
        return keras.optimizers.schedules.CosineDecay(initial, max(1, steps), alpha=min(alpha, 1.0))
    if opt.schedule == "step":
        boundaries = [max(1, int(round(fraction * steps))) for fraction in opt.step_milestones]
        values = [initial * opt.step_gamma ** k for k in range(len(boundaries) + 1)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    hold = int(round(float(opt.hold_fraction) * steps))
    return PolyDecay(initial, max(1, steps - hold), power=opt.power, end_learning_rate=opt.end_learning_rate, hold_steps=hold)


def build_schedule(config, steps, initial_learning_rate=None):
    """The optimizer section's schedule over `steps`: poly (`hold_fraction` of them at the
    initial rate, then poly decay of `power`, 1 = linear, to `end_learning_rate`), cosine
    (Keras's `CosineDecay` to `end_learning_rate`) or step (Keras's `PiecewiseConstantDecay`:
    times `step_gamma` at each of `step_milestones`), with `warmup_steps` of linear warmup
    in front (`LinearWarmup`)."""
    opt = config.optimizer
    initial = float(opt.learning_rate if initial_learning_rate is None else initial_learning_rate)
    schedule = _decay(opt, steps, initial)
    return LinearWarmup(schedule, opt.warmup_steps) if opt.warmup_steps else schedule


def build_optimizer(config, steps):
    """The segmentation network's optimizer: SGD with momentum and the coupled L2 term of the
    papers' Caffe/MXNet solvers, or AdamW (`optimizer.name`), on `build_schedule`."""
    opt = config.optimizer
    if opt.name == "adamw":
        return MultipliedAdamW(
            learning_rate=build_schedule(config, steps), weight_decay=opt.weight_decay, lr_multipliers=opt.lr_multipliers
        )
    return CoupledWeightDecaySGD(
        learning_rate=build_schedule(config, steps), momentum=opt.momentum, nesterov=opt.nesterov,
        l2=opt.weight_decay, lr_multipliers=opt.lr_multipliers,
    )
