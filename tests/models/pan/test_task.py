"""PAN's task (kseg/models/pan/task.py): the no-argument preset builds a PAN with the preset's
options, trains it with `train.loss` (class weights included) and evaluates the network itself."""

import numpy as np
import tensorflow as tf

import kseg
from kseg.training.config import load_config
from kseg.training.tasks import get_task
from tests.tiny import TINY_RESNET, options_override


def test_the_config_builds_compiles_and_trains_a_pan():
    config = load_config(overrides=[
        "data.format=voc", "data.root=/unused", "data.num_classes=3", "train.loss=cross_entropy + 0.5 * dice",
        "train.class_weights=[1, 2, 1]", options_override(decoder_filters=8, backbone_options=TINY_RESNET),
    ])
    task = get_task(config)
    model = task.build_model()
    assert type(model) is kseg.models.PAN and model.output_shape[-1] == 3 and task.SEGMENTER_PART == "model"
    loss = task.build_loss()
    assert isinstance(loss, kseg.losses.WeightedSumLoss) and loss.losses[0].class_weights == [1.0, 2.0, 1.0]
    task.compile(model, task.build_optimizers(steps=4))
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    labels = np.random.default_rng(1).integers(0, 3, (2, 32, 32)).astype("int32")
    history = model.fit(task.training_targets(tf.data.Dataset.from_tensors((images, labels)), model), verbose=0).history
    assert np.isfinite(history["loss"][0]) and int(model.optimizer.iterations) == 1
    assert task.inference_model(model) is model and task.saved_parts(model) == {}
