"""The families and architectures by name (kseg/models/registry.py): every family registers its
models where they are defined, `create` builds one by name, and the families' config sections
are read without TensorFlow."""

import pytest

import kseg
from kseg.models import registry
from tests.tiny import TINY_RESNET


def test_every_family_registers_its_architectures_under_the_names_the_config_takes():
    assert sorted(registry.architectures()) == ["deeplabv2", "pan", "relationnet", "seggan", "ssgan"]
    assert registry.ARCHITECTURES["pan"] is kseg.models.PAN and registry.ARCHITECTURES["seggan"] is kseg.models.SegGAN


def test_create_builds_a_model_by_name_and_names_the_choices_otherwise():
    model = registry.create("pan", num_classes=3, backbone="resnet50", backbone_options=TINY_RESNET, decoder_filters=8)
    assert isinstance(model, kseg.models.PAN) and model.output_shape[-1] == 3
    with pytest.raises(ValueError, match=r"Unknown architecture 'unet'. Expected one of \['deeplabv2', 'pan', 'relationnet', 'seggan', 'ssgan'\]"):
        registry.create("unet", num_classes=3)


def test_the_families_config_sections_and_shorthands():
    sections, shorthands = registry.family_sections(), registry.family_shorthands()
    assert sorted(sections) == ["adversarial", "relation"]
    assert shorthands["lambda_adv"] == "adversarial.lambda_adv" and shorthands["scl_weight"] == "relation.scl_weight"
