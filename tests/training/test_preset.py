"""The no-argument run's preset: a quarter-width, two-blocks-a-stage ResNet under PAN, and what
happens to its backbone options when a user picks another backbone or architecture."""

from kseg.training import preset
from kseg.training.config import load_config


def test_preset_uses_the_small_resnet_and_the_builtin_data():
    config = load_config()
    assert config["model"]["architecture"] == "pan" and config["data"]["format"] == "builtin"
    assert config["model"]["options"]["backbone_options"] == preset.BACKBONE_OPTIONS
    assert config["train"]["steps"] % config["train"]["checkpoint_every"] == 0


def test_choosing_another_backbone_drops_the_presets_backbone_options():
    config = load_config(overrides=["model.backbone=resnet101"])
    assert config["model"]["options"] == {"decoder_filters": preset.DECODER_FILTERS}  # ResNet-101 as the paper builds it
    kept = load_config(overrides=["model.backbone=resnet50"])  # the same backbone: its options stay
    assert kept["model"]["options"]["backbone_options"] == preset.BACKBONE_OPTIONS


def test_choosing_another_architecture_drops_all_the_presets_options():
    assert load_config(overrides=["model.architecture=deeplabv2"])["model"]["options"] == {}
