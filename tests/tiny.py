"""Tiny backbones for tests that train or export whole models: the same code paths as the
papers' networks (every layer type, BatchNorm, the FPA's pyramid, ASPP branches) at a
fraction of the compute. Full-size cases are marked `large`."""

import json

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
