"""The machinery behind `python -m training.fit`: the config schema (`schema`, `config`),
the trainer (`runner`, `loop`; each family's task lives in `kseg/models/<family>/task.py`),
and the optimizer pieces: the poly schedule and a linear warmup, SGD with the papers' coupled
weight decay and AdamW (registered with Keras when Keras loads, `kseg._keras_registrations`).
Imported on first use: `import kseg.training.config` loads no TensorFlow."""

from kseg._lazy import lazy_attributes as _lazy_attributes

__all__ = ["CoupledWeightDecaySGD", "LinearWarmup", "MultipliedAdamW", "PolyDecay"]
__getattr__, __dir__ = _lazy_attributes(__name__, {
    "CoupledWeightDecaySGD": ".optimizers", "MultipliedAdamW": ".optimizers", "LinearWarmup": ".schedules", "PolyDecay": ".schedules",
})
