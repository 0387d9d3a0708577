"""PAN and DeepLab v2: one network, one per-pixel loss (Li et al. §4; Chen et al. §4.1)."""

import kseg
from kseg.training.tasks.base import Task, register_task


@register_task("pan", "deeplabv2")
class SegmentationTask(Task):
    """A single segmentation network trained with the masked cross-entropy (or OHEM) by SGD
    with the poly schedule: everything the base `Task` does."""

    MODELS = {"pan": kseg.models.PAN, "deeplabv2": kseg.models.DeepLabV2}
