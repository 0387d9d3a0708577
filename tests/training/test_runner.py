"""Multi-stage recipes (RelationNet's alternating training) through training.fit's runner."""

import json
import os

import numpy as np
import pytest
import yaml

from kseg.data.builtin import SIZE
from kseg.training.config import ConfigError, expand_stages, load_config
from tests.tiny import TINY_RELATIONNET
from tests import REPO

ROOT = REPO
CONFIGS = os.path.join(ROOT, "training", "configs")


def _write(tmp_path, recipe):
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return str(path)


def test_relationnet_recipe_is_the_papers_alternating_training():
    config = load_config(os.path.join(CONFIGS, "relationnet_cityscapes.yaml"), ["data.root=/x"])
    stages = expand_stages(config)
    assert [name for name, _ in stages] == ["fine", "coarse", "fine_tune"]
    fine, coarse, tune = (stage for _, stage in stages)
    for stage in (fine, coarse, tune):  # §III-D
        assert stage["data"]["batch_size"] == 8 and stage["data"]["crop"] == [512, 520]
        assert stage["data"]["scale"] == [0.55, 1.3] and stage["data"]["flip"]
        assert stage["optimizer"]["learning_rate"] == 5e-4 and stage["optimizer"]["end_learning_rate"] == 5e-6
        assert stage["optimizer"]["power"] == 1.0 and stage["train"]["loss"] == "ohem"
        assert stage["train"]["ohem_threshold"] == 0.6 and stage["model"]["architecture"] == "relationnet"
    assert [s["train"]["epochs"] for s in (fine, coarse, tune)] == [60, 30, 15]  # §III-D
    assert [s["relation"]["scl_weight"] for s in (fine, coarse, tune)] == [0.1, 0.0, 0.1]  # §III-C2
    assert [s["data"]["annotation"] for s in (fine, coarse, tune)] == ["gtFine", "gtCoarse", "gtFine"]
    assert coarse["data"]["train_split"] == "train_extra"
    assert [s["relation"]["shifted_steps"] for s in (fine, coarse, tune)] == [4, 4, 4]  # §II-C: 4-steps testing

    from kseg.training.optimization import build_schedule, training_steps

    steps = training_steps(fine, 2975)  # 60 epochs of the 2975 fine images
    assert steps == 22313
    schedule = build_schedule(fine, steps)
    epoch = 2975 / 8
    assert float(schedule(int(34.9 * epoch))) == pytest.approx(5e-4)  # constant for 35 epochs
    assert float(schedule(int(47.5 * epoch))) == pytest.approx((5e-4 + 5e-6) / 2, rel=1e-3)  # linear
    assert float(schedule(steps)) == pytest.approx(5e-6)


def test_set_overrides_win_over_stages_and_bad_stages_are_named(tmp_path):
    recipe = {"train": {"steps": None}, "stages": [{"name": "a", "train": {"epochs": 2}}, {"train": {"epochs": 1}}]}
    config = load_config(_write(tmp_path, recipe), ["train.epochs=null", "train.steps=3", "optimizer.warmup_steps=0"])
    stages = expand_stages(config)
    assert [name for name, _ in stages] == ["a", "2"]
    assert all(s["train"]["steps"] == 3 and s["train"]["epochs"] is None and s["stages"] == [] for _, s in stages)
    bad = {"optimizer": {"warmup_steps": 0}, "stages": [{"train": {"steps": 2}}, {"train": {"stepz": 2}}]}
    with pytest.raises(ConfigError, match=r"stage 2 \(2\): Unknown config key 'train.stepz'"):
        load_config(_write(tmp_path, bad))
    with pytest.raises(ConfigError, match=r"stage 1 \(x\): Set exactly one of train.steps"):
        load_config(_write(tmp_path, {"stages": [{"name": "x", "train": {"epochs": 2}}]}))
    with pytest.raises(ConfigError, match="must be a mapping of config overrides"):
        load_config(_write(tmp_path, {"stages": ["fine"]}))
    with pytest.raises(ConfigError, match="name must be letters"):
        load_config(_write(tmp_path, {"stages": [{"name": "../up"}]}))


def test_transfer_weights_by_layer_name_and_clear_mismatches():
    import kseg
    from kseg.training.init_weights import transfer_weights

    with_heads = kseg.models.RelationNet(5, training_heads=True, backbone_blocks=TINY_RELATIONNET["backbone_blocks"],
                                         hidden_size=8, reduce_filters=16, similarity_hidden=8)
    plain = kseg.models.RelationNet(5, backbone_blocks=TINY_RELATIONNET["backbone_blocks"], hidden_size=8, reduce_filters=16)
    report = transfer_weights(plain, with_heads)
    assert report["kept"] == ["similarity"]
    assert {"reduce", "relation", "classifier", "block7_unit1_conv2"} <= set(report["copied"])
    for a, b in zip(plain.weights, [w for w in with_heads.weights if not w.path.startswith("similarity")]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    other_classes = kseg.models.RelationNet(19, backbone_blocks=TINY_RELATIONNET["backbone_blocks"], hidden_size=8,
                                            reduce_filters=16)
    with pytest.raises(ValueError, match=r"layers \['classifier'\] have weights of other shapes"):
        transfer_weights(plain, other_classes)
    deeplab = kseg.models.DeepLabV2(5, backbone="vgg16", aspp="S")
    with pytest.raises(ValueError, match="no layer name in common"):
        transfer_weights(deeplab, plain)


def test_two_stage_relationnet_run_hands_weights_over_and_resumes(tmp_path, data_root, monkeypatch):
    import keras

    from kseg.training import loop
    from kseg.training.runner import run
    from kseg.training.tasks import get_task

    recipe = {
        "name": "two_stage",
        "model": {"architecture": "relationnet", "backbone": "wide_resnet38", "output_stride": 8,
                  "options": TINY_RELATIONNET},
        "data": {"root": data_root, "crop": [64, 64], "batch_size": 4, "val_limit": 12},
        "optimizer": {"learning_rate": 0.01, "warmup_steps": 0, "power": 1.0, "hold_fraction": 0.5},
        "train": {"steps": None, "loss": "ohem", "ohem_min_kept": 1000, "checkpoint_every": 2},
        "export": {"onnx": False, "saved_model": True},
        "stages": [
            # 480 fine images x 1/64 epoch / batch 4 = 1.9, so 2 steps, with the similarity subnet.
            {"name": "fine", "data": {"train_split": "train"}, "train": {"epochs": 0.015625},
             "relation": {"scl_weight": 0.1}},
            # The coarse split without SCL; learning rate 0 so its trainable weights must stay stage 1's.
            {"name": "coarse", "data": {"train_split": "coarse"}, "train": {"epochs": 0.03125},
             "relation": {"scl_weight": 0.0}, "optimizer": {"learning_rate": 0.0}},
        ],
    }
    config = load_config(_write(tmp_path, recipe))
    run_dir = str(tmp_path / "run")
    built, build = [], loop.build_before_first_trace
    monkeypatch.setattr(loop, "build_before_first_trace", lambda *args: built.append(build(*args)))
    result = run(config, run_dir, verbose=0)
    assert built == [True, False]  # the fine stage's two outputs (logits, similarity) built before its one trace

    fine_dir, coarse_dir = (os.path.join(run_dir, d) for d in ("stage-1-fine", "stage-2-coarse"))
    assert [s["stage"] for s in result["stages"]] == ["fine", "coarse"]
    assert [s["steps"] for s in result["stages"]] == [2, 2]
    with open(os.path.join(coarse_dir, "config.yaml")) as f:
        coarse_config = yaml.safe_load(f)
    assert coarse_config["data"]["train_split"] == "coarse" and coarse_config["relation"]["scl_weight"] == 0.0
    fine = keras.saving.load_model(os.path.join(fine_dir, "model.keras"))
    coarse = keras.saving.load_model(os.path.join(coarse_dir, "model.keras"))
    assert fine.training_heads and not coarse.training_heads  # SCL in stage 1 only
    assert result["stages"][1]["initialised_from"]["kept"] == []
    assert result["stages"][1]["initialised_from"]["path"] == os.path.join(fine_dir, "model.keras")
    keras.utils.set_random_seed(0)
    untrained = get_task(expand_stages(config)[0][1]).build_model()
    assert not np.allclose(untrained.get_layer("classifier").get_weights()[0], fine.get_layer("classifier").get_weights()[0])
    assert fine.get_layer("relation").weights[0].path == "relation/rows/forward_gru/gru_cell/kernel"  # stable names
    for layer in coarse.layers:
        trained = {w.path: w.numpy() for w in fine.get_layer(layer.name).trainable_weights}
        for weight in layer.trainable_weights:
            np.testing.assert_array_equal(weight.numpy(), trained[weight.path], err_msg=weight.path)
    # The run folder is used like a one-stage run's: its model is the last stage's.
    top = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    for a, b in zip(top.weights, coarse.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert os.path.isdir(os.path.join(coarse_dir, "serving", "two_stage", "2"))  # the last stage is exported
    assert result["stages"][0]["exports"] == {} and not os.path.exists(os.path.join(fine_dir, "serving"))

    # Interrupted after stage 2's training (result.json not yet written): the rerun skips
    # stage 1, restores stage 2 at its last checkpoint (no further steps) and finishes it.
    stage_1_result = os.path.join(fine_dir, "result.json")
    before = os.path.getmtime(stage_1_result)
    os.remove(os.path.join(coarse_dir, "result.json"))
    again = run(config, run_dir, verbose=0)
    assert os.path.getmtime(stage_1_result) == before
    assert [s["steps"] for s in again["stages"]] == [2, 2] and "initialised_from" not in again["stages"][1]
    assert again["val_mean_iou"] == pytest.approx(result["val_mean_iou"], abs=1e-6)
    with open(os.path.join(run_dir, "result.json")) as f:
        assert json.load(f)["model"] == os.path.join(run_dir, "model.keras")


def test_evaluate_with_shifted_steps_matches_shifted_predict(tmp_path, data_root, capsys):
    import keras
    import tensorflow as tf

    import kseg
    from kseg import data as kdata
    from kseg.inference import centre_network, receptive_field_offsets, shifted_predict, stride_logits_model
    from training.evaluate import main as evaluate

    keras.utils.set_random_seed(1)
    model = kseg.models.RelationNet(5, training_heads=True, **TINY_RELATIONNET)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    model.save(str(run_dir / "model.keras"))
    config = load_config(overrides=[f"data.root={data_root}"])
    with open(run_dir / "config.yaml", "w") as f:
        yaml.safe_dump(config, f)
    out = tmp_path / "eval"
    evaluate(["--run", str(run_dir), "--shifted-steps", "4", "--images", "3", "--save-predictions", "1", "--out", str(out)])
    with open(out / "metrics.json") as f:
        reported = json.load(f)

    # Reference: the inference model's stride-8 scores through shifted_predict, image by image.
    scores = stride_logits_model(model.without_training_heads())
    metric = kseg.metrics.ConfusionMatrixMetric(5)
    pairs = kdata.voc_pairs(data_root, "val")[:3]
    offsets = receptive_field_offsets(centre_network(model), 8)
    shifted = tf.function(lambda images: shifted_predict(scores, images, steps=4, output_stride=8, centre_offsets=offsets))
    for images, masks in kdata.segmentation_dataset(pairs, 5, training=False):
        metric.update_state(masks, shifted(images))
    expected = metric.scores()
    assert int(np.sum(reported["confusion_matrix"])) == 3 * SIZE * SIZE
    np.testing.assert_array_equal(np.array(reported["confusion_matrix"]), np.asarray(expected["confusion"]).astype(np.int64))
    assert sorted(os.listdir(out / "predictions")) == ["0000_overlay.png", "0000_panel.png", "0000_pred.png"]
    with pytest.raises(SystemExit):
        evaluate(["--run", str(run_dir), "--shifted-steps", "3", "--images", "1", "--out", str(out)])
    assert "--shifted-steps 3 must divide the model's output stride 8" in capsys.readouterr().err
