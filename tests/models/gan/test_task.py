"""The adversarial task (kseg/models/gan/task.py): S with the config's SGD and `train.loss`
(Seg-GAN eq. 4's first term: a segmentation loss), D with Adam at `adversarial.d_learning_rate`
on the same schedule shape (§4.2), S alone evaluated and saved as generator.keras."""

import keras
import numpy as np
import pytest

import kseg
from kseg.training.config import load_config
from kseg.training.tasks import get_task
from tests.tiny import TINY_RESNET, options_override

TINY_SEGGAN = options_override(
    crf_modules=1, aspp="L", generator_options={"backbone_options": TINY_RESNET},
    discriminator_options={"crf_filter_size": 3, "filters": [8, 8, 8, 8, 1]},
)


def test_the_segmentation_term_and_both_optimizers_come_from_the_config():
    config = load_config(overrides=[
        "model.architecture=seggan", "model.backbone=resnet50", "data.format=voc", "data.root=/unused", "data.num_classes=3",
        "train.loss=dice", "adversarial.d_learning_rate=0.002", "adversarial.d_beta_1=0.5", "optimizer.learning_rate=0.01",
        "optimizer.warmup_steps=0", TINY_SEGGAN,
    ])
    task = get_task(config)
    model = task.build_model()
    optimizers = task.build_optimizers(steps=10)
    task.compile(model, optimizers)
    assert isinstance(model.segmentation_loss, kseg.losses.DiceLoss)  # train.loss honoured, not a fixed cross-entropy
    d_adam = optimizers["d_optimizer"]
    assert isinstance(d_adam, keras.optimizers.Adam)
    assert float(d_adam.learning_rate) == pytest.approx(0.002) and float(d_adam.beta_1) == pytest.approx(0.5)
    assert float(optimizers["optimizer"].learning_rate) == pytest.approx(0.01)
    assert task.segmentation_network(model) is model.generator and task.SEGMENTER_PART == "generator"
    (key, (name, network)), = task.saved_parts(model).items()
    assert (key, name) == ("generator", "generator.keras")
    images = np.zeros((1, 33, 33, 3), "float32")
    assert network(images).shape == (1, 33, 33, 3)
