"""Validation during training (issue 32, item 1): `train.eval_every` scores the validation
split every N steps, prints one line, writes TensorBoard scalars and panels, keeps the best
model (atomically, across a resume) and `export.model: best` exports it."""

import json
import os

import numpy as np
import pytest

from kseg.training.config import ConfigError, load_config
from kseg.training.validation import BestModel
from tests.tiny import TINY


def test_a_run_validates_every_n_steps_keeps_the_best_and_exports_it(tmp_path, data_root, capsys):
    import keras
    import tensorflow as tf

    from kseg.training.runner import train

    overrides = TINY + ["train.steps=6", "train.checkpoint_every=6", "train.eval_every=2", "data.val_limit=4",
                        "export.model=best", "export.saved_model=true", f"data.root={data_root}"]
    result = train(load_config(overrides=overrides), str(tmp_path / "run"), verbose=0)
    lines = [line for line in capsys.readouterr().out.splitlines() if ": val mIoU " in line]
    assert [line.split(":")[0] for line in lines] == ["step 2", "step 4"]  # step 6 is the final evaluation
    assert tf.train.latest_checkpoint(result["checkpoints"]).endswith("ckpt-6")  # chunks end at validations too
    best = result["best"]
    assert best["step"] in (2, 4, 6) and best["val_mean_iou"] >= result["val_mean_iou"] - 1e-9
    with open(os.path.join(result["run_dir"], "best", "result.json")) as f:
        assert json.load(f) == best
    events = os.listdir(os.path.join(result["tensorboard"], "validation"))
    assert events and any(name.startswith("events.out.tfevents") for name in events)
    tags = set()
    for name in events:
        for event in tf.compat.v1.train.summary_iterator(os.path.join(result["tensorboard"], "validation", name)):
            tags.update(value.tag for value in event.summary.value)
    assert {"val_mean_iou", "val_iou/background", "val_predictions/0"} <= tags
    kept = keras.saving.load_model(best["model"], compile=False)
    served = tf.saved_model.load(result["exports"]["saved_model"]).signatures["predict_tensor"]
    images = np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    np.testing.assert_array_equal(served(images=tf.constant(images))["labels"].numpy(), np.argmax(kept(images), -1))


def test_the_best_survives_a_resume_and_only_a_better_model_replaces_it(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    best = BestModel(str(tmp_path))
    assert best.result is None and best.offer(model, 0.4, 10)
    assert not best.offer(model, 0.3, 20) and not best.offer(model, float("nan"), 30)
    again = BestModel(str(tmp_path))  # a resumed run
    assert again.result == {"step": 10, "val_mean_iou": 0.4, "model": again.path}
    assert again.offer(model, 0.5, 40) and BestModel(str(tmp_path)).result["step"] == 40
    os.remove(again.path)  # a result without its model is not a best
    assert BestModel(str(tmp_path)).result is None


def test_export_best_needs_eval_every():
    with pytest.raises(ConfigError, match=r"export.model=best needs train.eval_every"):
        load_config(overrides=["export.model=best"])
    assert load_config(overrides=["export.model=best", "train.eval_every=100"])["export"]["model"] == "best"
