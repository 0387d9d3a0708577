"""Every model's `backbone=` takes a backbone model as well as a name (the feature-dict
contract of `kseg.backbones`), and the `.keras` file rebuilds it."""

import keras
import numpy as np
import pytest

import kseg
from tests.layer_case import run_model_saving_test


def _images(size=48, batch=1):
    return np.random.RandomState(0).uniform(0, 255, (batch, size, size, 3)).astype("float32")


def tiny_resnet(output_stride=16):
    return kseg.backbones.get_backbone("resnet50", output_stride=output_stride, blocks=(1, 1, 1, 1), stage_filters=(4, 8, 8, 8))


def test_the_issue_example_builds_pan_on_a_given_backbone():
    backbone = kseg.backbones.get_backbone("resnet50")
    model = kseg.models.PAN(num_classes=3, backbone=backbone)
    assert model.backbone is backbone and model.name == "pan_resnet50"
    assert model(_images(64)).shape == (1, 64, 64, 3)


@pytest.mark.parametrize(
    "build",
    [
        lambda: kseg.models.PAN(num_classes=3, backbone=tiny_resnet(), decoder_filters=8),
        lambda: kseg.models.DeepLabV2(num_classes=3, backbone=tiny_resnet(8)),
        lambda: kseg.models.SSGANGenerator(num_classes=3, backbone=tiny_resnet(8), head_filters=8),
        lambda: kseg.models.SegGAN(num_classes=3, backbone=tiny_resnet(8), crf_modules=1).generator,
    ],
    ids=["pan", "deeplabv2", "ssgan_generator", "seggan_generator"],
)
def test_models_on_a_given_backbone_round_trip(build, tmp_path):
    model = build()
    assert model.backbone.count_params() == tiny_resnet().count_params()  # the tiny one, not a default
    restored = run_model_saving_test(model, _images(), tmp_path)
    assert restored.backbone.get_config()["stage_filters"] == [4, 8, 8, 8]


def test_relationnet_on_a_given_backbone():
    backbone = kseg.backbones.WideResNet38Backbone(
        blocks=[[1, [8, 8]], [1, [8, 8]], [1, [8, 8]], [1, [8, 16]], [1, [8, 8, 16]], [1, [8, 8, 16]]],
        stem_filters=8,
    )
    model = kseg.models.RelationNet(num_classes=3, backbone=backbone, hidden_size=4, reduce_filters=8)
    assert model.backbone is backbone and model(_images(32)).shape == (1, 32, 32, 3)


def test_the_output_stride_is_the_backbones():
    model = kseg.models.PAN(num_classes=3, backbone=tiny_resnet(8), decoder_filters=8)
    assert model.output_stride == 8


def test_a_backbone_without_the_levels_the_model_reads_is_named():
    inputs = keras.Input((None, None, 3))
    only_p5 = keras.Model(inputs, {"P5": keras.layers.Conv2D(4, 3, strides=32, padding="same")(inputs)}, name="p5_only")
    with pytest.raises(ValueError, match=r"backbone 'p5_only' must return a dict with the feature levels \['P2', 'P3', 'P4', 'P5'\]; it lacks \['P2', 'P3', 'P4'\]"):
        kseg.models.PAN(num_classes=3, backbone=only_p5)
    assert kseg.models.DeepLabV2(num_classes=3, backbone=only_p5)(_images(64)).shape == (1, 64, 64, 3)


def test_weights_go_into_a_given_backbone_not_through_the_model():
    with pytest.raises(ValueError, match="backbone_weights='imagenet' applies to a backbone given by name"):
        kseg.models.PAN(num_classes=3, backbone=tiny_resnet(), backbone_weights="imagenet")
    with pytest.raises(TypeError, match="Expected backbone to be a name or a keras.Model"):
        kseg.models.PAN(num_classes=3, backbone=3)
    with pytest.raises(ValueError, match=r"Unknown backbone 'vgg16'. Expected one of \['resnet101', 'resnet50'\] or a backbone model"):
        kseg.models.PAN(num_classes=3, backbone="vgg16")


def test_tiny_resnet_keeps_the_contract():
    features = tiny_resnet(8)(_images(64))
    assert {k: tuple(v.shape) for k, v in features.items()} == {
        "P2": (1, 16, 16, 16), "P3": (1, 8, 8, 32), "P4": (1, 8, 8, 32), "P5": (1, 8, 8, 32),
    }


def test_get_config_is_the_constructor_arguments():
    backbone = kseg.backbones.ResNetBackbone(50, output_stride=8, blocks=(1, 2, 1, 1), stage_filters=(4, 8, 8, 8))
    config = backbone.get_config()
    assert config["blocks"] == [1, 2, 1, 1] and config["output_stride"] == 8 and "weights" not in config
    clone = kseg.backbones.ResNetBackbone.from_config(config)
    assert clone.count_params() == backbone.count_params()
