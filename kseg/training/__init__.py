"""The machinery behind `python -m training.fit`: the config schema (`schema`, `config`),
one task per model family (`tasks`), the trainer (`runner`, `loop`), and the optimizer
pieces the papers use: the poly schedule and SGD with coupled weight decay (importing
`kseg` registers both, so a run's `model.keras` loads with its optimizer)."""

from kseg.training.optimizers import CoupledWeightDecaySGD  # noqa: F401
from kseg.training.schedules import PolyDecay  # noqa: F401
