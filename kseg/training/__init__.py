"""The machinery behind `python -m training.fit`: the config schema (`schema`, `config`),
one task per model family (`tasks`), the trainer (`runner`, `loop`), and the optimizer
pieces: the poly schedule and a linear warmup, SGD with the papers' coupled weight decay
and AdamW (importing `kseg` registers them, so a run's `model.keras` loads with its
optimizer)."""

from kseg.training.optimizers import CoupledWeightDecaySGD, MultipliedAdamW  # noqa: F401
from kseg.training.schedules import LinearWarmup, PolyDecay  # noqa: F401
