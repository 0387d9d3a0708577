"""PAN's training (Li et al. §4): one network, one per-pixel loss, SGD with the poly schedule."""

from kseg.training.tasks.base import Task, register_task


@register_task("pan")
class PANTask(Task):
    """A single segmentation network trained with `train.loss` (the masked cross-entropy in the
    paper recipes, plus Dice in the built-in preset) by the configured optimizer: everything
    the base `Task` does."""
