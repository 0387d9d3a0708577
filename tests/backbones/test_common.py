"""The backbones' shared checks and DeepLab §3.1's stride bookkeeping: once the running stride
reaches the output stride, a stage keeps stride 1 and doubles its dilation rate."""

import pytest

from kseg.backbones.common import check_input_shape, check_model_kwargs, check_output_stride, stage_strides_and_rates


@pytest.mark.parametrize(
    "output_stride, plan",
    [
        (32, [(2, 1), (2, 1), (2, 1)]),  # ResNet's conv3-5 after a stride-4 stem: the classifier
        (16, [(2, 1), (2, 1), (1, 2)]),  # conv5 dilated by 2 (PAN, DeepLab's ASPP at OS 16)
        (8, [(2, 1), (1, 2), (1, 4)]),  # conv4 by 2, conv5 by 4 (DeepLab v2)
    ],
)
def test_resnet_stages(output_stride, plan):
    assert stage_strides_and_rates(3, 4, output_stride) == plan


def test_vgg_stages_at_output_stride_8_keep_pool4_and_pool5_at_stride_1():
    # VGG16: pool1 is stride 2 (the caller's first entry), then pool2-5
    assert stage_strides_and_rates(4, 2, 8) == [(2, 1), (2, 1), (1, 2), (1, 4)]


def test_the_field_of_view_matches_the_undilated_network():
    # each stage's stride times rate: what the undilated stage would have multiplied the stride by
    for output_stride in (8, 16, 32):
        running, product = 4, 4
        for stride, rate in stage_strides_and_rates(3, 4, output_stride):
            running *= stride
            product = max(product, running * rate)
        assert running == output_stride and product == 32


@pytest.mark.parametrize("value", [4, 12, 64, None])
def test_output_stride_outside_the_supported_ones_is_named(value):
    with pytest.raises(ValueError, match=rf"Expected output_stride in \(8, 16, 32\). Received: output_stride={value}"):
        check_output_stride(value)


def test_input_shape_must_be_rgb():
    assert check_input_shape([None, None, 3]) == (None, None, 3)
    with pytest.raises(ValueError, match=r"kseg models take RGB images. Received: input_shape=\(64, 64, 1\)"):
        check_input_shape((64, 64, 1))


def test_a_misspelt_model_argument_is_named():
    assert check_model_kwargs(object, {"name": "x"}) == {"name": "x"}
    with pytest.raises(TypeError, match=r"ResNetBackbone\(\) got an unexpected keyword argument 'nmae'"):
        check_model_kwargs(type("ResNetBackbone", (), {}), {"nmae": "x", "name": "y"})
