import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kseg.layers import ConvCRF
from tests.layers.crf_reference import CASES, load_case, numpy_conv_crf
from tests.layer_case import run_model_saving_test


@pytest.mark.parametrize("case", CASES)
def test_matches_the_reference_implementation(case):
    image, logits, _, reference = load_case(case)
    q = ConvCRF(filter_size=7, blur=4, num_iterations=5)([logits, image]).numpy()[0]
    assert np.abs(q - reference).max() <= 1e-4
    assert (q.argmax(-1) == reference.argmax(-1)).mean() == 1.0


@pytest.mark.parametrize("h, w, blur", [(13, 18, 4), (11, 9, 2), (10, 10, 1)])
def test_odd_sizes_match_numpy_reimplementation(h, w, blur):
    # Sizes that are not multiples of blur exercise the reference's padded pooling and cropping.
    rng = np.random.RandomState(h)
    image = rng.randint(0, 255, (h, w, 3)).astype(np.uint8)
    logits = rng.randn(h, w, 4).astype(np.float32) * 2
    expected = numpy_conv_crf(logits, image, iterations=3, filter_size=5, blur=blur)
    q = ConvCRF(num_iterations=3, filter_size=5, blur=blur)([logits[None], image[None]]).numpy()[0]
    np.testing.assert_allclose(q, expected, atol=2e-5)


def test_batch_equals_single_images():
    image, logits, _, _ = load_case(CASES[0])
    image2, logits2, _, _ = load_case(CASES[1])
    crf = ConvCRF()
    batch = crf([np.concatenate([logits, logits2]), np.concatenate([image, image2])]).numpy()
    np.testing.assert_allclose(batch[1], crf([logits2, image2]).numpy()[0], atol=1e-6)
    np.testing.assert_allclose(batch[0], crf([logits, image]).numpy()[0], atol=1e-6)


def test_defaults_are_the_references():
    crf = ConvCRF()
    assert (crf.theta_alpha, crf.theta_beta, crf.theta_gamma) == (80.0, 13.0, 3.0)
    assert (crf.bilateral_weight, crf.spatial_weight) == (10.0, 3.0)
    assert (crf.filter_size, crf.blur, crf.num_iterations, crf.weight_init, crf.unary_weight) == (7, 4, 5, 0.2, 1.0)
    assert not crf.colour_position_bias


def test_weights_and_config():
    crf = ConvCRF(learnable=True, learnable_compatibility=True, colour_position_bias=True)
    crf([np.zeros((1, 8, 8, 3), "float32"), np.zeros((1, 8, 8, 3), "float32")])
    # inverse bandwidths (3), two kernel weights, message weight vector, compatibility
    assert len(crf.trainable_weights) == 7
    frozen = ConvCRF()
    frozen([np.zeros((1, 8, 8, 3), "float32"), np.zeros((1, 8, 8, 3), "float32")])
    assert len(frozen.trainable_weights) == 0 and len(frozen.non_trainable_weights) == 5
    config = json.loads(json.dumps(crf.get_config()))
    assert ConvCRF.from_config(config).get_config() == crf.get_config()


def test_gradients_reach_logits_and_learnable_weights():
    rng = np.random.RandomState(0)
    logits = tf.Variable(rng.randn(1, 12, 12, 3).astype("float32"))
    image = rng.randint(0, 255, (1, 12, 12, 3)).astype("float32")
    crf = ConvCRF(learnable=True, num_iterations=2)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(crf([logits, image])[..., 0])
    grads = tape.gradient(loss, [logits] + crf.trainable_weights)
    assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)
    assert np.abs(grads[0].numpy()).sum() > 0


def test_save_and_load(tmp_path):
    logits_in = keras.Input((None, None, 4))
    image_in = keras.Input((None, None, 3))
    model = keras.Model([logits_in, image_in], ConvCRF(num_iterations=2, learnable=True)([logits_in, image_in]))
    rng = np.random.RandomState(1)
    run_model_saving_test(
        model, [rng.randn(2, 16, 20, 4).astype("float32"), rng.uniform(0, 255, (2, 16, 20, 3)).astype("float32")], tmp_path
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_iterations": 0}, "num_iterations >= 1"),
        ({"theta_beta": 0.0}, "theta_beta > 0"),
        ({"theta_gamma": -1.0}, "theta_gamma > 0"),
        ({"filter_size": 4}, "odd integer filter_size"),
        ({"blur": 0}, "blur >= 1"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConvCRF(**kwargs)


@pytest.mark.parametrize(
    "logits_shape, image_shape, message",
    [
        ((1, 8, 8, 3), (1, 8, 9, 3), "differ in width"),
        ((1, 8, 8, 3), (1, 8, 8, 4), "RGB image with 3 channels"),
        ((1, 8, 8, 1), (1, 8, 8, 3), "classes >= 2"),
    ],
)
def test_bad_inputs(logits_shape, image_shape, message):
    with pytest.raises(ValueError, match=message):
        ConvCRF()([np.zeros(logits_shape, "float32"), np.zeros(image_shape, "float32")])


def test_size_mismatch_found_at_run_time():
    crf = ConvCRF(num_iterations=1, filter_size=3)  # the check precedes the iterations: any window shows it
    crf.build([(None, None, None, 3), (None, None, None, 3)])  # weights made in the trace would trace it twice
    fn = tf.function(lambda a, b: crf([a, b]), input_signature=[
        tf.TensorSpec([None, None, None, 3]), tf.TensorSpec([None, None, None, 3])
    ])
    with pytest.raises(tf.errors.InvalidArgumentError, match="same height and width"):
        fn(tf.zeros((1, 8, 8, 3)), tf.zeros((1, 9, 8, 3)))


def test_runs_in_an_exported_saved_model_with_batch_2(tmp_path):
    logits_in = keras.Input((None, None, 21), name="logits")
    image_in = keras.Input((None, None, 3), name="image")
    model = keras.Model([logits_in, image_in], ConvCRF()([logits_in, image_in]))
    path = str(tmp_path / "convcrf_saved_model")
    model.export(path, format="tf_saved_model", verbose=False)
    served = tf.saved_model.load(path)
    image, logits, _, reference = load_case(CASES[0])
    image2, logits2, _, reference2 = load_case(CASES[1])
    got = served.serve([np.concatenate([logits, logits2]), np.concatenate([image, image2]).astype("float32")]).numpy()
    assert np.abs(got[0] - reference).max() <= 1e-4 and np.abs(got[1] - reference2).max() <= 1e-4


def test_converts_to_onnx():
    import onnxruntime
    import tf2onnx

    rng = np.random.RandomState(0)
    logits = rng.randn(1, 37, 45, 4).astype("float32")
    image = rng.uniform(0, 255, (1, 37, 45, 3)).astype("float32")
    # A 3x3 window: the same ops as the default 7x7 one, a fifth of them for tf2onnx to convert
    # (the default window goes through ONNX in tests/serving/test_onnx.py's CRF export).
    layer = ConvCRF(num_iterations=2, filter_size=3)
    spec = [tf.TensorSpec([None, None, None, 4], tf.float32, name="logits"),
            tf.TensorSpec([None, None, None, 3], tf.float32, name="image")]
    proto, _ = tf2onnx.convert.from_function(tf.function(lambda a, b: layer([a, b])), input_signature=spec, opset=17)
    got = onnxruntime.InferenceSession(proto.SerializeToString()).run(None, {"logits": logits, "image": image})[0]
    np.testing.assert_allclose(got, layer([logits, image]).numpy(), atol=1e-5)
