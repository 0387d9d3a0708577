"""Parameter counts and output strides checked against figures computed independently
(keras.applications counts plus each head's own arithmetic) and against the papers."""

import keras
import numpy as np
import pytest

import kseg

C = 21  # PASCAL VOC classes
# One xdist worker runs the module: its keras.applications reference counts (module fixtures) are built once.
pytestmark = pytest.mark.xdist_group("reference_counts")


def _bn(c):
    return 4 * c  # gamma, beta, moving mean, moving variance


def _conv(k, cin, cout, bias):
    return k * k * cin * cout + (cout if bias else 0)


@pytest.fixture(scope="module")
def resnet101_count():
    return keras.applications.ResNet101(include_top=False, weights=None).count_params()


@pytest.fixture(scope="module")
def vgg16_count():
    return keras.applications.VGG16(include_top=False, weights=None).count_params()


def test_deeplab_resnet101_aspp_l(resnet101_count):
    model = kseg.models.DeepLabV2(num_classes=C, backbone="resnet101", aspp="L")
    assert model.head.branch_rates == (6, 12, 18, 24)
    # ResNet-101 + four 3x3 atrous convs from 2048 channels straight to class logits.
    assert model.count_params() == resnet101_count + 4 * _conv(3, 2048, C, True)
    assert model.backbone(np.zeros((1, 321, 321, 3), "float32"))["P5"].shape[1] == 41  # output stride 8


def test_deeplab_vgg16_largefov_is_the_papers_20_5m(vgg16_count):
    model = kseg.models.DeepLabV2(num_classes=C, backbone="vgg16", aspp="LargeFOV")
    branch = _conv(3, 512, 1024, True) + _conv(1, 1024, 1024, True) + _conv(1, 1024, C, True)
    assert model.count_params() == vgg16_count + branch
    assert round(model.count_params() / 1e6, 1) == 20.5  # DeepLab v2 Tab. 1, "3x3, r = 12: 20.5M"
    fc6 = model.head.branches[0][0]
    assert (fc6.kernel_size, fc6.rate, fc6.filters) == (3, 12, 1024)
    assert model.backbone(np.zeros((1, 321, 321, 3), "float32"))["P5"].shape[1] == 41  # output stride 8


def test_deeplab_vgg16_aspp_l_and_s(vgg16_count):
    branch = _conv(3, 512, 1024, True) + _conv(1, 1024, 1024, True) + _conv(1, 1024, C, True)
    for preset, rates in (("L", (6, 12, 18, 24)), ("S", (2, 4, 8, 12))):
        model = kseg.models.DeepLabV2(num_classes=C, backbone="vgg16", aspp=preset)
        assert [b[0].rate for b in model.head.branches] == list(rates)
        assert model.count_params() == vgg16_count + 4 * branch


def test_pan_resnet101(resnet101_count):
    model = kseg.models.PAN(num_classes=C)
    F = 256
    # Deep stem replaces conv1 (7x7x3x64 + bias, BN) by three 3x3 convs (64, 64, 128, BN each),
    # and conv2_block1's two input convs then read 128 channels instead of 64.
    backbone = (
        resnet101_count
        - _conv(7, 3, 64, True) - _bn(64)
        + _conv(3, 3, 64, False) + _bn(64) + _conv(3, 64, 64, False) + _bn(64) + _conv(3, 64, 128, False) + _bn(128)
        + _conv(1, 64, 256, False) + _conv(1, 64, 64, False)
    )
    assert model.backbone.count_params() == backbone
    pyramid = (
        _conv(7, 2048, F, False) + _conv(5, F, F, False) + _conv(3, F, F, False)  # downward C357
        + _conv(7, F, F, False) + _conv(5, F, F, False) + _conv(3, F, F, False)  # lateral
        + 6 * _bn(F)
    )
    fpa = pyramid + 2 * (_conv(1, 2048, F, False) + _bn(F))  # master + global pooling branch
    gau = sum(_conv(3, c, F, False) + _bn(F) + _conv(1, F, F, False) + _bn(F) for c in (1024, 512, 256))
    classifier = _conv(1, F, C, True)
    assert model.get_layer("fpa").count_params() == fpa
    assert model.count_params() == backbone + fpa + gau + classifier
    assert [layer.kernel_size for layer in model.get_layer("fpa").down] == [7, 5, 3]
    features = model.backbone(np.zeros((1, 512, 512, 3), "float32"))
    assert features["P5"].shape[1] == 32  # output stride 16
    assert features["P2"].shape[1] == 128  # decoder ends at 1/4
