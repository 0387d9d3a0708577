"""A sixth model family, registered from the test tree as a user's would be: a model class
(`kseg.models.register_architecture`) and its task (`kseg.training.tasks.register_task`).
docs/adding-a-model.md walks through the same steps. Importing this module registers "toy";
tests/training/tasks/test_tasks.py takes it out of the registries after the test that uses it."""

import keras

from kseg.models.common import SegmentationModel
from kseg.models.registry import register_architecture
from kseg.training.tasks import Task, register_task


@keras.saving.register_keras_serializable(package="kseg_tests")
@register_architecture("toy")
class ToySegmenter(SegmentationModel):
    """Two convolutions: images (B, H, W, 3) in [0, 255] -> logits (B, H, W, num_classes)."""

    BACKBONES = ("none",)

    def __init__(self, num_classes, backbone="none", output_stride=1, backbone_weights=None, width=8, name="toy", **kwargs):
        inputs = keras.Input((None, None, 3), name="images")
        x = keras.layers.Rescaling(1 / 127.5, offset=-1, name="scale")(inputs)
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="features")(x)
        outputs = keras.layers.Conv2D(num_classes, 1, name="classifier")(x)
        super().__init__(inputs, outputs, name=name, **kwargs)


@register_task("toy")
class ToyTask(Task):
    """Everything the base task does: build, compile with train.loss and SGD, evaluate, export."""
