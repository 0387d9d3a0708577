import keras
import numpy as np
import pytest
import tensorflow as tf

import kseg
from tests.layer_case import run_model_saving_test
from tests.tiny import TINY_RESNET, TINY_VGG


def _images(h, w, batch=1, seed=0):
    return np.random.RandomState(seed).uniform(0, 255, (batch, h, w, 3)).astype("float32")


@pytest.mark.parametrize("backbone", ["resnet101", "vgg16"])
def test_output_at_input_resolution(backbone):
    model = kseg.models.DeepLabV2(num_classes=21, backbone=backbone)
    out = model(_images(65, 57))
    assert out.shape == (1, 65, 57, 21) and out.dtype == "float32"


def test_msc_is_max_of_upsampled_single_scale_score_maps():
    scales = (0.5, 0.75, 1.0)
    msc = kseg.models.DeepLabV2(num_classes=4, backbone="resnet50", multi_scale=scales, backbone_options=TINY_RESNET)
    single = kseg.models.DeepLabV2(num_classes=4, backbone="resnet50", backbone_options=TINY_RESNET)
    single.set_weights(msc.get_weights())
    x = _images(49, 41, seed=2)
    expected = []
    for s in scales:
        size = (int(np.ceil(49 * s)), int(np.ceil(41 * s)))
        scaled = tf.image.resize(x, size).numpy() if s != 1.0 else x
        # Each scale's score map (1/8 of the scaled image) goes straight to the input size.
        score_map = single.head(single.backbone(scaled, training=False)["P5"], training=False)
        expected.append(tf.image.resize(score_map, (49, 41)).numpy())
    np.testing.assert_allclose(msc(x, training=False).numpy(), np.max(expected, axis=0), atol=1e-4)
    assert not np.allclose(expected[0], expected[2], atol=1e-3)  # scales really differ


def test_aspp_presets_reach_the_model():
    assert kseg.models.DeepLabV2(num_classes=3, backbone="resnet50", aspp="S").head.branch_rates == (2, 4, 8, 12)
    vgg = kseg.models.DeepLabV2(num_classes=3, backbone="vgg16", aspp="LargeFOV")
    assert vgg.head.branch_rates == (12,) and vgg.head.hidden_filters == 1024


def test_one_training_step():
    model = kseg.models.DeepLabV2(num_classes=3, backbone="resnet50", multi_scale=(0.5, 1.0), backbone_options=TINY_RESNET)
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss=kseg.losses.MaskedSparseCategoricalCrossentropy())
    labels = np.random.RandomState(0).randint(0, 3, (2, 41, 41))
    labels[:, -5:] = 255
    history = model.fit(_images(41, 41, batch=2), labels, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"backbone": "resnet50", "aspp": "S", "backbone_options": TINY_RESNET},
        {"backbone": "vgg16", "aspp": "L", "multi_scale": (0.75, 1.0), "activation": "softmax", "backbone_options": TINY_VGG},
    ],
)
def test_save_and_load(kwargs, tmp_path):
    model = kseg.models.DeepLabV2(num_classes=3, **kwargs)
    restored = run_model_saving_test(model, _images(33, 41), tmp_path)
    assert isinstance(restored, kseg.models.DeepLabV2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": 0}, "num_classes >= 2"),
        ({"num_classes": 21, "backbone": "mobilenet"}, r"Unknown backbone 'mobilenet'. Expected one of \['resnet101', 'resnet50', 'vgg16'\]"),
        ({"num_classes": 21, "output_stride": 24}, r"output_stride in \(8, 16, 32\)"),
        ({"num_classes": 21, "input_shape": (321, 321, 1)}, "RGB images"),
        ({"num_classes": 21, "aspp": "M"}, "Unknown ASPP preset 'M'"),
        ({"num_classes": 21, "multi_scale": (0.5, -1.0)}, "positive scales"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kseg.models.DeepLabV2(**kwargs)


def test_input_with_other_than_3_channels_is_rejected_when_called():
    model = kseg.models.DeepLabV2(num_classes=3, backbone="resnet50", backbone_options=TINY_RESNET)
    with pytest.raises(ValueError):
        model(np.zeros((1, 33, 33, 4), "float32"))


def test_msc_traces_with_dynamic_shape_and_mixed_precision():
    model = kseg.models.DeepLabV2(num_classes=3, backbone="resnet50", multi_scale=(0.5, 1.0), backbone_options=TINY_RESNET)
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec([None, None, None, 3], tf.float32)
    )
    assert fn(tf.constant(_images(41, 57))).shape == (1, 41, 57, 3)
    assert fn(tf.constant(_images(25, 25, batch=3))).shape == (3, 25, 25, 3)
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    try:
        mixed = kseg.models.DeepLabV2(num_classes=3, backbone="vgg16", multi_scale=(0.5, 1.0), backbone_options=TINY_VGG)
        out = mixed(_images(33, 33))
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert out.dtype == "float32" and np.isfinite(out.numpy()).all()
