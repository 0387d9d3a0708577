"""`model.batch_norm`: DeepLab's recipe trains with the backbone's BN fixed, PAN's trains it,
and `sync` makes replicas normalise over the global batch."""

import os

import keras
import numpy as np

from kseg.training.config import load_config
from tests.tiny import CONFIGS, TINY
from tests.tiny import TINY_RESNET, options_override

SHORT = [o for o in TINY if not o.startswith("model.options")] + [
    "data.format=builtin", "data.num_classes=5", "data.train_split=train", "model.backbone_weights=null", "train.steps=3",
    "train.checkpoint_every=3", "data.batch_size=4", "optimizer.learning_rate=0.01",
]


def _backbone_batch_norm(model):
    from kseg.training.batch_norm import batch_norm_layers

    return {layer.path if hasattr(layer, "path") else layer.name: [w.numpy().copy() for w in layer.weights]
            for layer in batch_norm_layers(model.backbone)}


def _trained_and_initial(recipe, options, tmp_path, data_root):
    from kseg.training.runner import train
    from kseg.training.tasks import get_task

    config = load_config(os.path.join(CONFIGS, recipe), SHORT + [f"data.root={data_root}", options])
    keras.utils.set_random_seed(config["train"]["seed"])
    initial = _backbone_batch_norm(get_task(config).build_model())
    result = train(config, str(tmp_path / "run"), verbose=0)
    trained = _backbone_batch_norm(keras.saving.load_model(result["model"], compile=False))
    assert initial.keys() == trained.keys() and len(initial) >= 5
    return config, initial, trained


def test_deeplab_recipe_leaves_every_backbone_batch_norm_as_it_was(tmp_path, data_root):
    config, initial, trained = _trained_and_initial(
        "deeplab_v2_voc.yaml", options_override(aspp="L", backbone_options=TINY_RESNET), tmp_path, data_root
    )
    assert config["model"]["batch_norm"] == "frozen"
    for name in initial:  # gamma, beta, moving mean, moving variance
        for before, after in zip(initial[name], trained[name]):
            np.testing.assert_array_equal(before, after, err_msg=name)


def test_pan_recipe_trains_its_batch_norm(tmp_path, data_root):
    config, initial, trained = _trained_and_initial(
        "pan_voc.yaml", options_override(decoder_filters=8, backbone_options=TINY_RESNET), tmp_path, data_root
    )
    assert config["model"]["batch_norm"] == "train"
    changed = [name for name in initial if not all(np.array_equal(a, b) for a, b in zip(initial[name], trained[name]))]
    assert changed == list(initial)  # statistics and affine parameters of every BN moved


def test_frozen_batch_norm_is_not_trained_and_runs_in_inference_mode():
    import kseg
    from kseg.training.batch_norm import apply_batch_norm_policy

    model = kseg.models.PAN(num_classes=3, backbone="resnet50", decoder_filters=8, backbone_options=TINY_RESNET)
    frozen = apply_batch_norm_policy("frozen", model)
    backbone_variables = {id(v) for v in model.backbone.trainable_variables}
    assert frozen and all(not layer.trainable for layer in frozen)
    assert not any(id(w) in backbone_variables for layer in frozen for w in layer.weights)
    x = np.random.RandomState(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(model.backbone(x, training=True)["P5"], model.backbone(x, training=False)["P5"], atol=1e-5)
    decoder_bn = [l for l in kseg.training.batch_norm.batch_norm_layers(model) if l not in frozen]
    assert decoder_bn and all(layer.trainable for layer in decoder_bn)  # only the backbone is frozen


def test_sync_batch_norm_normalises_two_replicas_like_one_batch():
    """Two replicas of a MirroredStrategy over two logical CPUs: with `sync` each BN's moving
    statistics after one step equal a single replica's on the whole batch; with `train`
    (per-replica statistics) the moving variance differs."""
    import subprocess
    import sys

    from tests import REPO as ROOT

    result = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "training", "sync_batch_norm_check.py")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = dict(line.split("=", 1) for line in result.stdout.split() if "=" in line)
    assert float(lines["sync"]) < 1e-6 and float(lines["per_replica"]) > 0.1
