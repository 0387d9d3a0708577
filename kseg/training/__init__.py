"""Training building blocks: the poly schedule, SGD with the papers' (coupled) weight decay."""

from kseg.training.optimizers import CoupledWeightDecaySGD  # noqa: F401
from kseg.training.schedules import PolyDecay  # noqa: F401
