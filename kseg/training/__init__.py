"""The machinery behind `python -m training.fit`: the config schema (`schema`, `config`),
one task per model family (`tasks`), the trainer (`runner`, `loop`), and the optimizer
pieces: the poly schedule and a linear warmup, SGD with the papers' coupled weight decay
and AdamW (registered with Keras when Keras loads, `kseg._keras_registrations`). Imported
on first use: `import kseg.training.config` loads no TensorFlow."""

import importlib

_PUBLIC = {
    "CoupledWeightDecaySGD": "kseg.training.optimizers", "MultipliedAdamW": "kseg.training.optimizers",
    "LinearWarmup": "kseg.training.schedules", "PolyDecay": "kseg.training.schedules",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'kseg.training' has no attribute {name!r}")
