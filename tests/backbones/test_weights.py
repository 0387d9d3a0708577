"""The weights="imagenet" route, exercised without a download: keras.applications is
replaced by a builder that returns the same architecture with (random) weights=None."""

import keras
import numpy as np
import pytest

import kseg
from kseg.backbones import decimate_vgg_fc


@pytest.fixture
def offline_applications(monkeypatch):
    built = {}

    def fake(cls_name):
        real = getattr(keras.applications, cls_name)

        def build(include_top=True, weights="imagenet", input_shape=None, **kwargs):
            assert weights == "imagenet"
            model = real(include_top=include_top, weights=None, input_shape=input_shape, **kwargs)
            built[cls_name] = model
            return model

        return build

    for name in ("ResNet50", "VGG16"):
        monkeypatch.setattr(keras.applications, name, fake(name))
    return built


def test_resnet_imagenet_route(offline_applications):
    backbone = kseg.backbones.ResNet50(output_stride=8, weights="imagenet")
    source = offline_applications["ResNet50"]
    for name in ("conv1_conv", "conv3_block2_2_conv", "conv5_block3_3_bn"):
        for got, expected in zip(backbone.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(got, expected)


@pytest.mark.filterwarnings("error")
def test_deeplab_vgg_branches_start_from_decimated_fc_layers(offline_applications):
    model = kseg.models.DeepLabV2(num_classes=3, backbone="vgg16", aspp="S", backbone_weights="imagenet")
    source = offline_applications["VGG16"]
    fc6_k, fc6_b, fc7_k, fc7_b = decimate_vgg_fc(*source.get_layer("fc1").get_weights(), *source.get_layer("fc2").get_weights())
    for branch in model.head.branches:  # DeepLab initialises every ASPP branch from the same fc6/fc7
        np.testing.assert_array_equal(branch[0].kernel.numpy(), fc6_k)
        np.testing.assert_array_equal(branch[0].bias.numpy(), fc6_b)
        np.testing.assert_array_equal(branch[2].kernel.numpy(), fc7_k)
        np.testing.assert_array_equal(branch[2].bias.numpy(), fc7_b)
    np.testing.assert_array_equal(
        model.backbone.get_layer("block5_conv3").get_weights()[0], source.get_layer("block5_conv3").get_weights()[0]
    )


def test_failed_download_gives_an_actionable_error(monkeypatch):
    def unreachable(**kwargs):
        raise OSError("URL fetch failure: network is unreachable")

    monkeypatch.setattr(keras.applications, "ResNet101", unreachable)
    with pytest.raises(ValueError, match="without internet, download the keras.applications .h5 file"):
        kseg.backbones.ResNet101(weights="imagenet")


def test_weights_argument_of_the_wrong_type():
    with pytest.raises(ValueError, match="Expected weights=None, 'imagenet' or a file path"):
        kseg.backbones.ResNet50(weights=3)
