"""A model of several outputs (here a multi-scale DeepLab) compiled by its task: built from the
stream's spec before `fit`, its training step is traced once, not twice, and trains exactly
as it would have (kseg/training/first_trace.py)."""

import keras
import numpy as np
import tensorflow as tf

from kseg.training.config import load_config
from kseg.training.first_trace import build_before_first_trace
from kseg.training.tasks import get_task
from tests.tiny import TINY_VGG, options_override

MSC = [
    "model.architecture=deeplabv2", "model.backbone=vgg16", "data.format=voc", "data.root=/unused", "data.num_classes=3",
    "optimizer.warmup_steps=0", options_override(aspp="LargeFOV", multi_scale=[0.5, 1.0], backbone_options={**TINY_VGG, "fc_filters": 16}),
]


def _compiled(overrides):
    task = get_task(load_config(overrides=overrides))
    keras.utils.set_random_seed(0)
    model = task.build_model()
    task.compile(model, task.build_optimizers(steps=10))
    rng = np.random.RandomState(0)
    batch = (rng.uniform(0, 255, (2, 33, 33, 3)).astype("float32"), rng.randint(0, 3, (2, 33, 33)).astype("int32"))
    return model, task.training_targets(tf.data.Dataset.from_tensors(batch), model)


def _traced_fit(model, stream):
    """(number of times `fit` traced the training step, the step's losses)."""
    traces, step = [], model.train_step
    model.train_step = lambda data: traces.append(1) or step(data)
    history = model.fit(stream, verbose=0)
    return len(traces), {key: values[-1] for key, values in history.history.items()}


def test_a_model_of_several_outputs_is_traced_once_and_trains_the_same():
    built, stream = _compiled(MSC)
    assert build_before_first_trace(built, stream)
    traces, losses = _traced_fit(built, stream)
    assert traces == 1
    as_keras_does, stream = _compiled(MSC)
    twice, expected = _traced_fit(as_keras_does, stream)
    assert twice == 2  # the cost this removes (if Keras stops paying it, this module can go)
    assert losses == expected
    for a, b in zip(built.get_weights(), as_keras_does.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_single_output_model_or_one_under_a_strategy_is_left_to_keras():
    overrides = ["data.format=voc", "data.root=/unused", "data.num_classes=3", options_override(decoder_filters=8, backbone_options={"blocks": [1, 1, 1, 1], "stage_filters": [8, 8, 8, 8]})]
    model, stream = _compiled(overrides)
    assert not build_before_first_trace(model, stream)  # PAN: one output, nothing built inside the trace
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        model, stream = _compiled(MSC)
    assert not build_before_first_trace(model, stream)  # Keras builds it itself before tracing
