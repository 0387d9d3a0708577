"""Config files and values that used to give tracebacks or were taken silently are one
`ConfigError` line naming the file or key."""

import pytest

from kseg.training.config import ConfigError, load_config


@pytest.mark.parametrize(
    "content, message",
    [
        (b"name: a\nname: b\n", r"dup.yaml is not valid YAML: duplicate key 'name' at line 2, column 1$"),
        ("name: x\n".encode("utf-16"), r"not UTF-8 text \(byte 0\)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", r"not UTF-8 text|NUL characters"),
        (b"train: {steps: [1\n", r"is not valid YAML: .* at line \d+, column \d+$"),
        (b"stages: 5\n", r"^stages must be a list of mappings. Received: 5$"),
        (b"data:\n  crop: [64, 64]\n  crop: [96, 96]\n", r"duplicate key 'crop' at line 3"),
    ],
)
def test_bad_recipe_files(tmp_path, content, message):
    path = tmp_path / "dup.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message) as error:
        load_config(str(path))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.crop=[1,2", r"^--set data.crop: the value '\[1,2' is not valid YAML: .* at line 1, column 5$"),
        ("optimizer.learning_rate=.inf", r"optimizer.learning_rate must be >= 0 \(finite\). Received: inf"),
        ("optimizer.momentum=.nan", r"optimizer.momentum must be .*Received: nan"),
        ("name=../../escape", r"^name must be a name without '/'.*Received: '../../escape'"),
        ("name=..", r"^name must be a name without"),
        ("export.name=a/b", r"^export.name must be a name without"),
        ("stages=5", r"^stages must be a list of mappings"),
    ],
)
def test_bad_values(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=[override])


def test_good_names_and_numbers_still_pass():
    config = load_config(overrides=["name=pan_voc-2", "export.name=pan.v2", "optimizer.learning_rate=1e-3"])
    assert (config["name"], config["export"]["name"], config["optimizer"]["learning_rate"]) == ("pan_voc-2", "pan.v2", 0.001)


def test_an_unnamed_run_is_named_after_its_data_format_and_architecture(tmp_path):
    assert load_config()["name"] == "builtin_pan"  # the first run's folder, runs/builtin_pan
    assert load_config(overrides=["data.format=voc", "data.root=/x"])["name"] == "voc_pan"
    assert load_config(overrides=["data.format=folder", "data.root=/x", "data.num_classes=3", "model.architecture=deeplabv2",
                                  "model.backbone=resnet101"])["name"] == "folder_deeplabv2"
    assert load_config(overrides=["data.format=voc", "data.root=/x", "name=mine"])["name"] == "mine"
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("name: from_recipe\ndata:\n  format: voc\n  root: /x\n")
    assert load_config(str(recipe))["name"] == "from_recipe"
