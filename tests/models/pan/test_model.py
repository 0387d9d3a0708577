import keras
import numpy as np
import pytest

import kseg
from kseg.losses import MaskedSparseCategoricalCrossentropy
from tests.layer_case import run_model_saving_test
from tests.tiny import TINY_RESNET


def _images(h, w, batch=1, seed=0):
    return np.random.RandomState(seed).uniform(0, 255, (batch, h, w, 3)).astype("float32")


def test_pan_as_written_in_the_readme():
    model = kseg.models.PAN(num_classes=21)
    assert model.backbone.name == "resnet101" and model.backbone.deep_stem and model.output_stride == 16
    out = model(_images(64, 64))
    assert out.shape == (1, 64, 64, 21) and out.dtype == "float32"


@pytest.mark.parametrize("h, w", [(64, 64), (65, 97), (33, 40)])
def test_any_input_size_gives_logits_at_input_resolution(h, w):
    model = kseg.models.PAN(num_classes=5, backbone="resnet50", backbone_options=TINY_RESNET)
    assert model(_images(h, w, batch=2)).shape == (2, h, w, 5)


def test_softmax_output_and_fixed_input_shape():
    model = kseg.models.PAN(num_classes=4, backbone="resnet50", activation="softmax", input_shape=(64, 64, 3), backbone_options=TINY_RESNET)
    probs = model(_images(64, 64)).numpy()
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    assert model.input_shape == (None, 64, 64, 3)


def test_decoder_uses_res4_res3_res2_in_turn():
    model = kseg.models.PAN(num_classes=3, backbone="resnet50")
    gaus = [layer for layer in model.layers if isinstance(layer, kseg.layers.GlobalAttentionUpsample)]
    assert [g.name for g in gaus] == ["gau_P4", "gau_P3", "gau_P2"]
    # Input channels of each GAU's low-level conv: res4 1024, res3 512, res2 256.
    assert [g.low_conv.kernel.shape[2] for g in gaus] == [1024, 512, 256]
    fpa = model.get_layer("fpa")
    assert fpa.down[0].kernel.shape[2] == 2048  # FPA reads res5


def test_one_training_step_with_ignored_pixels():
    model = kseg.models.PAN(num_classes=3, backbone="resnet50", backbone_options=TINY_RESNET)
    model.compile(  # one step: eager costs less than tracing it (the traced step: tests/models/pan/test_task.py)
        optimizer=keras.optimizers.SGD(1e-3, momentum=0.9), loss=MaskedSparseCategoricalCrossentropy(), run_eagerly=True
    )
    labels = np.random.RandomState(1).randint(0, 3, (2, 48, 48)).astype("int32")
    labels[:, :8] = 255
    before = model.get_layer("classifier").get_weights()[0].copy()
    history = model.fit(_images(48, 48, batch=2), labels, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert not np.array_equal(before, model.get_layer("classifier").get_weights()[0])


def test_save_and_load(tmp_path):
    model = kseg.models.PAN(num_classes=3, backbone="resnet50", output_stride=8, backbone_options=TINY_RESNET)
    restored = run_model_saving_test(model, _images(40, 48), tmp_path)
    assert isinstance(restored, kseg.models.PAN) and restored.output_stride == 8


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": 1}, "num_classes >= 2"),
        ({"num_classes": 21, "backbone": "vgg16"}, r"Unknown backbone 'vgg16'. Expected one of \['resnet101', 'resnet50'\]"),
        ({"num_classes": 21, "output_stride": 4}, r"output_stride in \(8, 16, 32\)"),
        ({"num_classes": 21, "input_shape": (None, None, 4)}, "RGB images"),
        ({"num_classes": 21, "activation": "sigmoid"}, "activation in"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kseg.models.PAN(**kwargs)


def test_traces_with_dynamic_shape_and_mixed_precision():
    import tensorflow as tf

    model = kseg.models.PAN(num_classes=3, backbone="resnet50", backbone_options=TINY_RESNET)
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec([None, None, None, 3], tf.float32)
    )
    assert fn(tf.constant(_images(40, 56))).shape == (1, 40, 56, 3)
    assert fn(tf.constant(_images(33, 33, batch=2))).shape == (2, 33, 33, 3)
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    try:
        mixed = kseg.models.PAN(num_classes=3, backbone="resnet50", backbone_options=TINY_RESNET)
        out = mixed(_images(40, 40))
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert out.dtype == "float32" and np.isfinite(out.numpy()).all()
