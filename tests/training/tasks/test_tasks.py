"""The trainer sees architectures only through their tasks; the config picks the task and
each task checks its options against its model's constructor."""

import ast
import os

import keras
import pytest

import kseg
from kseg.training.config import ConfigError, load_config
from tests.cli import run_main
from tests.tiny import TINY_RESNET
from tests import REPO

ROOT = REPO




def fit(argv):
    from training.fit import main

    return main(argv)


MODEL_CLASSES = ("PAN", "DeepLabV2", "SegGAN", "SSGAN", "RelationNet", "AdversarialSegmenter", "SSGANGenerator")


def test_every_architecture_has_a_task():
    from kseg.training.tasks import TASKS

    assert list(TASKS) == ["pan", "deeplabv2", "seggan", "ssgan", "relationnet"]


# Allowed to name families: each family's own folder, the registry (kseg/models/__init__.py,
# registry.py) and the no-argument run's recipe.
FAMILY_NAMERS = ("kseg/models/__init__.py", "kseg/models/registry.py", "kseg/training/preset.py")


def _library_and_command_files():
    from kseg.models import FAMILIES

    families = tuple(f"kseg/models/{family}/" for family in FAMILIES)
    for top in ("kseg", "training", "export"):
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            for name in sorted(files):
                path = os.path.relpath(os.path.join(folder, name), ROOT).replace(os.sep, "/")
                if name.endswith(".py") and not path.startswith(families) and path not in FAMILY_NAMERS:
                    yield path


def test_no_module_outside_a_family_names_a_family_or_checks_a_model_type():
    """Outside kseg/models/<family>/ and the registry, no string is an architecture or family
    name, no code asks a model's type, and nothing reads kseg.models' classes: the trainer, the
    commands and the schema know families only through the registries."""
    from kseg.models import FAMILIES
    from kseg.training.tasks import TASKS

    names = set(TASKS) | set(FAMILIES)
    found = []
    for path in _library_and_command_files():
        for node in ast.walk(ast.parse(open(os.path.join(ROOT, path)).read())):
            if isinstance(node, ast.Constant) and node.value in names:
                found.append(f"{path}:{node.lineno} {node.value!r}")
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance":
                checked = ast.unparse(node.args[1])
                if "models" in checked or any(model in checked for model in MODEL_CLASSES):
                    found.append(f"{path}:{node.lineno} isinstance(..., {checked})")
            if isinstance(node, (ast.Attribute, ast.Name)) and getattr(node, "attr", getattr(node, "id", None)) in MODEL_CLASSES:
                found.append(f"{path}:{node.lineno} {ast.unparse(node)}")
    assert found == []


def test_another_architecture_on_the_default_preset_drops_its_options():
    config = load_config(overrides=["model.architecture=deeplabv2"])
    assert config["model"]["options"] == {}
    config = load_config(overrides=["model.options.aspp=S", "model.architecture=deeplabv2"])
    assert config["model"]["options"] == {"aspp": "S"}  # what --set gives is kept, in any order
    assert load_config(overrides=["model.architecture=pan"])["model"]["options"] == load_config()["model"]["options"]
    with pytest.raises(ConfigError, match=r"model.options.decoder_filters is not an argument of DeepLabV2"):
        load_config(overrides=["model.architecture=deeplabv2", "model.options.decoder_filters=8"])


def test_relationnet_shifted_steps_must_divide_its_stride():
    path = os.path.join(ROOT, "training", "configs", "relationnet_builtin.yaml")
    assert load_config(path, ["relation.shifted_steps=4"])["relation"]["shifted_steps"] == 4
    with pytest.raises(ConfigError, match=r"relation.shifted_steps must divide the output stride 8: 1, 2, 4 or 8. Received: 3"):
        load_config(path, ["relation.shifted_steps=3"])


def test_relationnet_refuses_another_output_stride():
    path = os.path.join(ROOT, "training", "configs", "relationnet_builtin.yaml")
    with pytest.raises(ConfigError, match=r"model.output_stride must be 8 for model.architecture=relationnet .*Received: 16"):
        load_config(path, ["model.output_stride=16"])


def test_another_familys_section_is_refused_rather_than_ignored():
    with pytest.raises(ConfigError, match=r"adversarial.lambda_adv=0.5 is not used by model.architecture=pan: only seggan and ssgan read"):
        load_config(overrides=["lambda_adv=0.5"])
    with pytest.raises(ConfigError, match=r"relation.scl_weight=0.2 is not used by model.architecture=deeplabv2: only relationnet"):
        load_config(overrides=["model.architecture=deeplabv2", "relation.scl_weight=0.2"])
    assert load_config(overrides=["model.architecture=seggan", "model.backbone=vgg16", "lambda_adv=0.5"])["adversarial"]["lambda_adv"] == 0.5


def test_gans_train_their_segmentation_term_with_train_loss():
    # Seg-GAN eq. 2: L_seg = L_ce + lambda L_adv, whose first term is the configured segmentation loss
    from kseg.training.tasks import get_task
    from tests.tiny import TINY_VGG

    config = load_config(overrides=[
        "model.architecture=seggan", "model.backbone=vgg16", "model.output_stride=8", "train.loss=dice + 0.5*ohem",
        "train.class_weights=[1, 2, 1, 1, 1]",
    ])
    task = get_task(config)
    model = kseg.models.SegGAN(5, backbone="vgg16", aspp="LargeFOV", generator_options={"backbone_options": TINY_VGG},
                               discriminator_options={"crf_filter_size": 3, "filters": [8, 8, 8, 8, 1]})
    task.compile(model, task.build_optimizers(steps=10))
    loss = model.segmentation_loss
    assert isinstance(loss, kseg.losses.WeightedSumLoss) and loss.weights == [1.0, 0.5]
    assert isinstance(loss.losses[0], kseg.losses.DiceLoss) and loss.losses[1].class_weights == [1.0, 2.0, 1.0, 1.0, 1.0]


def test_a_constructor_error_is_a_config_error_naming_the_model():
    from kseg.training.tasks import get_task

    config = load_config(overrides=["model.architecture=deeplabv2", "model.options.aspp=Q"])
    with pytest.raises(ConfigError, match=r"model \(architecture=deeplabv2\): Unknown ASPP preset .Q."):
        get_task(config).build_model()


def test_dry_run_builds_the_model_and_touches_nothing(tmp_path):
    result = run_main(fit, [
        "--dry-run", "--run-dir", str(tmp_path / "run"),
        "--set", "data.format=voc", "--set", f"data.root={tmp_path / 'no_such_dataset'}",
        "--set", "data.num_classes=21", "--set", "model.architecture=deeplabv2", "--set", "model.backbone=vgg16",
        "--set", "model.options={aspp: LargeFOV}",
    ])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "architecture: deeplabv2" in result.stdout and "format: voc" in result.stdout
    summary = [line for line in result.stdout.splitlines() if line.startswith("# ")]
    assert summary == ["# deeplabv2 -> deeplab_v2_vgg16: 20,505,429 parameters"]
    assert os.listdir(tmp_path) == []  # no run folder, no dataset


def test_dry_run_reports_a_bad_option_as_a_config_error(tmp_path):
    result = run_main(fit, ["--dry-run", "--set", "model.options.pyramid_filters=0.5"])
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert result.returncode == 2 and len(errors) == 1 and "model (architecture=pan)" in errors[0]


def test_lr_multipliers_that_fit_no_variable_are_a_config_error():
    from kseg.training.tasks import get_task

    config = load_config(overrides=["model.architecture=deeplabv2", "optimizer.lr_multipliers={'^fc8/': 10}"])
    task = get_task(config)
    model = kseg.models.DeepLabV2(5, backbone="resnet50", backbone_options=TINY_RESNET)
    with pytest.raises(ConfigError, match=r"optimizer.lr_multipliers: '\^fc8/' matches no trainable variable"):
        task.compile(model, task.build_optimizers(steps=10))



def test_one_registry_names_the_architectures_and_builds_them():
    from kseg.training.tasks import TASKS

    assert sorted(kseg.models.ARCHITECTURES) == sorted(TASKS)
    assert kseg.models.ARCHITECTURES["pan"] is kseg.models.PAN and kseg.models.ARCHITECTURES["ssgan"] is kseg.models.SSGAN
    model = kseg.models.create("pan", num_classes=3, backbone="resnet50", decoder_filters=8, backbone_options=TINY_RESNET)
    assert isinstance(model, kseg.models.PAN) and model.output_shape[-1] == 3
    with pytest.raises(ValueError, match=r"Unknown architecture 'unet'. Expected one of \['deeplabv2', 'pan', 'relationnet', 'seggan', 'ssgan'\]"):
        kseg.models.create("unet", num_classes=3)


@pytest.fixture
def toy_family():
    """The toy family registered for one test, then taken out again (the registries are global)."""
    from kseg.training.tasks import TASKS
    from tests.toy_family import ToySegmenter, ToyTask

    kseg.models.ARCHITECTURES.setdefault("toy", ToySegmenter)
    TASKS.setdefault("toy", ToyTask)
    yield
    del kseg.models.ARCHITECTURES["toy"], TASKS["toy"]


def test_a_family_registered_from_outside_trains_through_the_trainer(tmp_path, data_root, toy_family):
    from kseg.training.runner import train

    config = load_config(overrides=[
        "model.architecture=toy", "model.backbone=none", "model.options={width: 4}", "train.steps=4", "optimizer.warmup_steps=0",
        "train.checkpoint_every=2", "train.precision=float32", "data.crop=[48,48]", "data.batch_size=2",
        "data.val_limit=4", "export.onnx=false", "export.saved_model=false", f"data.root={data_root}",
    ])
    result = train(config, str(tmp_path / "run"), verbose=0)
    assert result["steps"] == 4 and 0.0 <= result["val_mean_iou"] <= 1.0
    assert keras.saving.load_model(result["model"]).get_layer("features").filters == 4
