"""Tiny backbones for tests that train or export whole models: the same code paths as the
papers' networks (every layer type, BatchNorm, the FPA's pyramid, ASPP branches) at a
fraction of the compute. Full-size cases are marked `large`. `TINY`: the `--set` items of a
run of the default preset at that size."""

import json
import os

from tests import REPO

CONFIGS = os.path.join(REPO, "training", "configs")  # the paper recipes

TINY_RESNET = {"blocks": [1, 1, 1, 1], "stage_filters": [8, 16, 16, 16]}
TINY_VGG = {"blocks": [[1, 8], [1, 8], [1, 16], [1, 16], [1, 16]]}
TINY_RELATIONNET = {
    "backbone_blocks": [[1, [8, 8]], [1, [16, 16]], [1, [16, 16]], [1, [16, 32]], [1, [16, 16, 32]], [1, [16, 16, 32]]],
    "hidden_size": 8,
    "reduce_filters": 16,
    "similarity_hidden": 8,
}


def options_override(**options):
    """`model.options=...` for `--set` / `load_config` (JSON is YAML)."""
    return f"model.options={json.dumps(options)}"


TINY = [
    "train.checkpoint_every=2",
    "optimizer.warmup_steps=0",  # runs of a few steps: the preset's 100 warmup steps would outlast them
    "train.precision=float32",  # the suite's numbers do not depend on the machine's bfloat16 units
    "data.crop=[64,64]",
    "data.batch_size=2",
    options_override(decoder_filters=32, backbone_options=TINY_RESNET),
    "export.onnx=false",  # exports: on in tests/commands/test_fit.py's short run only (tests/serving/run_export_checks.py)
    "export.saved_model=false",
    "data.val_limit=12",  # the first 12 of the 120 validation pictures: the end-of-run evaluation, at a tenth of its cost
    "train.steps_per_execution=1",  # a few steps a run: tracing the multi-step loop would cost more than it saves
]
