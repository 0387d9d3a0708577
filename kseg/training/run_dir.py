"""What a run directory already holds: the config it was started with, and litter.

Resuming with another config is allowed where the checkpoint still fits it (optimizer,
steps, data, export settings: printed and applied) and refused where it does not (the
`model` section and the class count decide which variables exist).
"""

import glob
import os
import shutil

import yaml

from kseg.atomic import remove_stale_staging
from kseg.training.schema import ConfigError
from kseg.run_folder import RunFolder

# Keys whose change makes a run's checkpoints unusable.
ARCHITECTURE_KEYS = ("model.", "data.num_classes")
# What TensorFlow writes in checkpoints/ while it saves, renamed when the save is complete.
CHECKPOINT_LITTER = ("ckpt-*_temp*", "checkpoint.tmp*")


def flatten(config, prefix=""):
    """{"a.b.c": value} for the leaves of nested dicts (model.options stays one leaf each key)."""
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def config_differences(old, new):
    """{key: (old, new)} for every leaf that differs."""
    a, b = flatten(old), flatten(new)
    return {key: (a.get(key), b.get(key)) for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)}


def has_checkpoint(out_dir):
    return RunFolder(out_dir).has_checkpoint


def reconcile_with_run(config, out_dir):
    """`config`, after comparing it with the config of the run being resumed in `out_dir`.

    Raises a `ConfigError` listing the differing keys when the architecture changed; prints
    the other differences (they apply from the resumed step on)."""
    previous = RunFolder(out_dir).config
    if not (has_checkpoint(out_dir) and os.path.isfile(previous)):
        return config
    with open(previous) as f:
        old = yaml.safe_load(f) or {}
    differences = config_differences(old, config)
    fixed = {k: v for k, v in differences.items() if k.startswith(ARCHITECTURE_KEYS)}
    if fixed:
        listed = "; ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in fixed.items())
        raise ConfigError(
            f"{out_dir} holds checkpoints of another model ({listed}); resume with the model it was started with, "
            "or choose another --run-dir"
        )
    for key, (a, b) in differences.items():
        print(f"Resuming with a changed config: {key}: {a!r} -> {b!r}", flush=True)
    return config


def remove_litter(out_dir):
    """Remove what an interrupted run left in `out_dir`: checkpoint shards TF was still
    writing (`ckpt-*_temp`, `checkpoint.tmp*`) and staging files of atomic writes. Call
    only while holding the run's lock."""
    removed = remove_stale_staging(out_dir)
    for pattern in CHECKPOINT_LITTER:
        for path in glob.glob(os.path.join(RunFolder(out_dir).checkpoints, pattern)):
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.remove(path)
            removed.append(path)
    for path in removed:
        print(f"Removed {path} (left by an interrupted run)", flush=True)
    return removed


