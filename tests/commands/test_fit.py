import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from kseg.training.config import ConfigError, dataset_spec, load_config
from tests.cli import run_main
from tests.serving.run_export_checks import check_run_exports
from tests import REPO
from tests.tiny import CONFIGS, TINY, TINY_VGG, options_override

ROOT = REPO


def test_defaults_and_overrides():
    config = load_config(overrides=["train.steps=12", "optimizer.warmup_steps=0", "data.scale=null", "optimizer.nesterov=true"])
    assert config["data"]["format"] == "builtin" and config["train"]["steps"] == 12
    assert config["data"]["scale"] is None and config["optimizer"]["nesterov"] is True


def test_val_limit_keeps_the_validation_splits_first_images(data_root):
    from kseg.data import dataset_splits

    every = dataset_splits(dataset_spec(load_config(overrides=[f"data.root={data_root}"])))
    first = dataset_splits(dataset_spec(load_config(overrides=[f"data.root={data_root}", "data.val_limit=5"])))
    assert len(every.val_pairs) == 120 and first.val_pairs == every.val_pairs[:5]
    assert first.train_pairs == every.train_pairs


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["train.stepz=3"], r"Unknown config key 'train.stepz'. Valid keys here: \["),
        (["model.architecture=unet"], r"model.architecture must be one of \['pan', 'deeplabv2', 'seggan', 'ssgan', 'relationnet'\]"),
        (["model.architecture=relationnet"], "model.backbone must be 'wide_resnet38' for model.architecture=relationnet"),
        (["model.backbone=wide_resnet38"], "set model.architecture=relationnet"),
        (["train.epochs=3"], "Set exactly one of train.steps and train.epochs"),
        (["train.steps=null"], "Set exactly one of train.steps and train.epochs"),
        (["train.steps=null", "train.epochs=-1"], "train.epochs must be a positive number"),
        (["optimizer.hold_fraction=1.0"], r"optimizer.hold_fraction must be in \[0, 1\)"),
        (["data.train_split=[]"], "data.train_split must be a split name or a list"),
        (["scl_weight=-0.1"], "relation.scl_weight must be >= 0"),
        (["data.format=voc"], "data.root is required for data.format='voc'"),
        (["data.crop=[64]"], "data.crop must be"),
        (["train.steps=0"], "train.steps must be a positive integer"),
        (["steps"], "Expected key=value"),
        (["data.palette=[[1,2,3]]"], r"data.palette must be null, voc, cityscapes, or a list of \[r, g, b\]"),
        (["data.palette=[[1,2,3],[4,5,300]]"], r"data.palette must be"),
        (["data.palette=[[1,2,3],[4,5,6]]"], "data.palette lists 2 colours but there are 5 classes"),
    ],
)
def test_bad_configs(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=overrides)


def test_bad_config_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(bad))


def test_recipes_carry_the_papers_numbers():
    deeplab = load_config(os.path.join(CONFIGS, "deeplab_v2_voc.yaml"), ["data.root=/x"])
    assert deeplab["model"]["backbone"] == "resnet101"
    assert deeplab["model"]["options"] == {"aspp": "L", "multi_scale": [0.5, 0.75, 1.0]}  # §3.2, Tab. 4 "+MSC"
    assert deeplab["train"]["loss_resolution"] == "output_stride"  # §4: labels subsampled by 8
    assert deeplab["data"]["batch_size"] == 10 and deeplab["data"]["crop"] == [321, 321]
    assert deeplab["optimizer"]["learning_rate"] == 2.5e-4 and deeplab["optimizer"]["power"] == 0.9
    assert deeplab["optimizer"]["momentum"] == 0.9 and deeplab["optimizer"]["weight_decay"] == 5e-4
    assert deeplab["train"]["steps"] == 20000 and deeplab["data"]["scale"] == [0.5, 1.5]
    assert deeplab["optimizer"]["lr_multipliers"] == {"^aspp/": 10.0}  # §4.1.1: the classifier at 10x
    pan = load_config(os.path.join(CONFIGS, "pan_voc.yaml"), ["data.root=/x"])
    assert pan["data"]["batch_size"] == 16 and pan["optimizer"]["learning_rate"] == 4e-3
    assert pan["optimizer"]["weight_decay"] == 1e-4 and pan["data"]["scale"] == [0.5, 2.0] and pan["data"]["flip"]
    assert pan["model"]["output_stride"] == 16 and pan["model"]["options"] == {"decoder_filters": 256}
    city = load_config(os.path.join(CONFIGS, "pan_cityscapes.yaml"), ["data.root=/x"])
    assert city["data"]["crop"] == [768, 768] and city["data"]["num_classes"] == 19
    seggan = load_config(os.path.join(CONFIGS, "seggan_voc.yaml"), ["data.root=/x"])
    assert seggan["model"]["architecture"] == "seggan" and seggan["model"]["backbone"] == "resnet101"
    assert seggan["data"]["crop"] == [319, 319] and seggan["data"]["batch_size"] == 11
    assert seggan["optimizer"] == {
        "name": "sgd", "learning_rate": 2.5e-4, "schedule": "poly", "warmup_steps": 0, "power": 0.9, "end_learning_rate": 0.0,
        "hold_fraction": 0.0, "step_milestones": [0.5, 0.75], "step_gamma": 0.1, "momentum": 0.9,
        "nesterov": True, "weight_decay": 5e-4, "lr_multipliers": {"^aspp/": 10.0},
    }
    adv = seggan["adversarial"]
    assert adv["lambda_adv"] == 0.01 and adv["d_learning_rate"] == 1e-4 and (adv["d_beta_1"], adv["d_beta_2"]) == (0.9, 0.999)
    assert seggan["train"]["steps"] == 50000 and seggan["model"]["options"]["crf_modules"] == 4
    for name, classes in (("ssgan_voc.yaml", 21), ("ssgan_cityscapes.yaml", 19)):
        ssgan = load_config(os.path.join(CONFIGS, name), ["data.root=/x"])
        assert ssgan["model"]["architecture"] == "ssgan" and ssgan["data"]["num_classes"] == classes


def test_short_run_lowers_the_loss_evaluates_saves_and_exports(tmp_path, data_root):
    import keras

    from kseg.training.runner import train

    # 14 steps with a checkpoint every 4: the last "epoch" is 2 steps, so the run ends at 14.
    # Exports on (as in the default run), checked by tests/serving/run_export_checks.py.
    overrides = TINY + ["export.onnx=true", "export.saved_model=true", "export.name=shapes", f"data.palette={PALETTE}"]
    config = load_config(
        overrides=overrides + ["train.steps=14", "train.checkpoint_every=4", "data.batch_size=8", f"data.root={data_root}"]
    )
    result = train(config, str(tmp_path / "run"), verbose=0)
    assert result["steps"] == 14
    import tensorflow as tf

    assert tf.train.latest_checkpoint(result["checkpoints"]).endswith("ckpt-14")
    with open(os.path.join(result["run_dir"], "eval", "metrics.json")) as f:
        metrics = json.load(f)
    assert set(metrics["per_class_iou"]) == {"background", "stripes", "checker", "dots", "speckle"}
    assert os.path.isfile(result["metrics"]["confusion_matrix"])  # the same pictures as training.evaluate's
    assert "0000_panel.png" in os.listdir(result["metrics"]["predictions"])
    assert 0.0 <= metrics["mean_iou"] <= 1.0 and metrics["mean_iou"] == pytest.approx(result["val_mean_iou"])
    with open(result["config"]) as f:
        assert yaml.safe_load(f)["train"]["steps"] == 14  # the resolved config sits next to the run
    model = keras.saving.load_model(result["model"])
    assert model.output_shape[-1] == 5
    check_run_exports(result, model)
    _check_labels_travel_with_the_exports(result)
    logs = os.listdir(result["tensorboard"])
    assert logs, "TensorBoard logs were written"

    losses = _epoch_losses(result["tensorboard"])
    assert len(losses) == 4 and losses[2] < losses[0]  # third 4-step epoch vs the first


PALETTE = [[0, 0, 0], [250, 10, 10], [10, 250, 10], [10, 10, 250], [200, 200, 0]]


def _check_labels_travel_with_the_exports(result):
    """Class names and data.palette reach the SavedModel, the ONNX file and the pictures."""
    from PIL import Image

    from kseg.serving.labels import read_labels

    want = {"class_names": ["background", "stripes", "checker", "dots", "speckle"], "palette": PALETTE}
    assert read_labels(result["exports"]["saved_model"]) == want
    assert read_labels(result["exports"]["onnx"]["path"]) == want
    assert read_labels(result["run_dir"]) == want
    picture = Image.open(os.path.join(result["metrics"]["predictions"], "0000_pred.png")).convert("RGB")
    assert set(map(tuple, np.asarray(picture).reshape(-1, 3))) <= set(map(tuple, PALETTE))


def _epoch_losses(log_dir):
    import glob

    import tensorflow as tf

    values = []
    for path in sorted(glob.glob(os.path.join(log_dir, "train", "events.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == "epoch_loss":
                    values.append((event.step, float(tf.make_ndarray(value.tensor))))
    return [v for _, v in sorted(values)]


def _fit_command(run_dir, settings):
    command = [sys.executable, "-m", "training.fit", "--quiet", "--run-dir", run_dir]
    for item in settings:
        command += ["--set", item]
    return command


# One thread per op and between ops, deterministic kernels: a CPU run is bit-reproducible
# (with more threads, reductions in PAN's BatchNorm backward change order from run to run).
DETERMINISTIC_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "2", "TF_DETERMINISTIC_OPS": "1", "OMP_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
}
KILL_AND_RESUME = {
    # DeepLab-LargeFOV with dropout: its ASPP branch is a list of layers and its dropout
    # streams are Keras seed states, both once missing from the checkpoint.
    "deeplab_largefov": [
        "model.architecture=deeplabv2", "model.backbone=vgg16", options_override(aspp="LargeFOV", backbone_options=TINY_VGG),
        "optimizer.learning_rate=0.01",  # the preset's 0.1 (0.05 already) diverges in some runs of this net without BatchNorm
    ],
    # The default PAN preset (a tiny ResNet): the FPA's pyramid convs and BatchNorms are lists of layers.
    "pan_default": [],
    # The same at full size (the default preset's ResNet-50).
    "pan_default_full_size": [options_override(decoder_filters=32)],
}
KILL_AND_RESUME_STEPS = {"pan_default_full_size": 12}


@pytest.mark.parametrize(
    "preset", [pytest.param(p, marks=pytest.mark.large) if "full_size" in p else p for p in sorted(KILL_AND_RESUME)]
)
def test_kill_and_resume(tmp_path, data_root, preset):
    run_dir = str(tmp_path / "run")
    # Killed once its first checkpoint (step 4) is recorded: a few seconds before it could end.
    steps = KILL_AND_RESUME_STEPS.get(preset, 16)
    # Deterministic settings: a resumed run can be compared with an uninterrupted one to 1e-5.
    settings = TINY + KILL_AND_RESUME[preset] + [
        f"train.steps={steps}", "train.checkpoint_every=4", f"data.root={data_root}", "train.steps_per_execution=2"
    ]
    command = _fit_command(run_dir, settings)
    env = {**os.environ, **DETERMINISTIC_ENV}
    first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import tensorflow as tf

    checkpoint_dir = os.path.join(run_dir, "checkpoints")
    deadline = time.time() + 300
    # A checkpoint counts once CheckpointManager has recorded it (its state file is written last).
    while time.time() < deadline and first.poll() is None:
        if os.path.isdir(checkpoint_dir) and tf.train.latest_checkpoint(checkpoint_dir):
            break
        time.sleep(0.2)
    assert first.poll() is None, "the first run ended before it could be killed"
    first.send_signal(signal.SIGKILL)
    first.wait()
    latest = tf.train.latest_checkpoint(checkpoint_dir)
    saved = [int(latest.rsplit("-", 1)[1])]
    assert 0 < saved[-1] < steps

    uninterrupted_dir = str(tmp_path / "uninterrupted")
    # ... and one step a call, where the killed and the resumed run take two (train.steps_per_execution)
    uninterrupted = subprocess.Popen(
        _fit_command(uninterrupted_dir, settings + ["train.steps_per_execution=1"]), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"(step {saved[-1]})" in second.stdout  # resumed where the killed run left off
    with open(os.path.join(run_dir, "result.json")) as f:
        assert json.load(f)["steps"] == steps  # the step counter continued, it did not restart
    # Nothing lost: weights, optimizer state and the data stream position were restored, so
    # the resumed run ends where a run that was never killed ends.
    assert uninterrupted.wait(timeout=600) == 0, uninterrupted.stderr.read()[-2000:]
    import keras

    resumed = keras.saving.load_model(os.path.join(run_dir, "model.keras"), compile=False).get_weights()
    whole = keras.saving.load_model(os.path.join(uninterrupted_dir, "model.keras"), compile=False).get_weights()
    for a, b in zip(resumed, whole):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)


def test_fit_cli_rejects_bad_overrides():
    # main() in this process (tests/cli.py): the run stops before any data is read; every
    # subprocess run in this file goes through `python -m training.fit`'s own exit
    from training.fit import main

    result = run_main(main, ["--set", "train.bogus=1"])
    assert result.returncode == 2 and "Unknown config key 'train.bogus'" in result.stderr


def test_a_run_folder_on_a_filesystem_tensorflow_lacks_is_one_line(capsys, monkeypatch, tmp_path):
    from training.fit import main

    monkeypatch.setenv("KSEG_WORK_DIR", str(tmp_path))
    assert main(["--run-dir", "s3://bucket/runs/x", "--set", "data.root=unused"]) == 1
    assert capsys.readouterr().err == (
        "python -m training.fit: error: s3://bucket/runs/x: File system scheme 's3' not implemented "
        "(file: 's3://bucket/runs/x/run.lock')\n")
    assert os.listdir(tmp_path) == []  # no working copy made
