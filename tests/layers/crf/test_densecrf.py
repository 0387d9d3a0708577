import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kseg.layers import DenseCRF
from kseg.testing import realistic_unary
from tests.layers.crf_reference import CASES, brute_force_dense_crf, load_case
from tests.layer_case import run_model_saving_test

REFERENCE_PARAMS = dict(theta_alpha=80.0, theta_beta=13.0, theta_gamma=3.0, bilateral_weight=10.0, spatial_weight=3.0)


def pydensecrf_q(logits, image, iterations, theta_alpha=80, theta_beta=13, theta_gamma=3, w1=10, w2=3):
    import pydensecrf.densecrf as dcrf  # pydensecrf2, in the test extra

    h, w, c = logits.shape
    crf = dcrf.DenseCRF2D(w, h, c)
    crf.setUnaryEnergy(np.ascontiguousarray(-logits.reshape(-1, c).T.astype(np.float32)))
    crf.addPairwiseGaussian(sxy=theta_gamma, compat=w2)
    crf.addPairwiseBilateral(sxy=theta_alpha, srgb=theta_beta, rgbim=np.ascontiguousarray(image), compat=w1)
    return np.array(crf.inference(iterations)).T.reshape(h, w, c)


@pytest.mark.parametrize("case", CASES)
def test_matches_pydensecrf_fixture(case):
    image, logits, reference, _ = load_case(case)
    q = DenseCRF(num_iterations=10, **REFERENCE_PARAMS)([logits, image]).numpy()[0]
    assert (q.argmax(-1) == reference.argmax(-1)).mean() >= 0.99
    assert np.abs(q - reference).mean() <= 1e-4  # measured 1.7e-6; the fixture is float16


@pytest.mark.parametrize("iterations", [5, 10])
def test_matches_pydensecrf_on_a_photo_shipped_with_matplotlib(iterations):
    import matplotlib

    photo = os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")
    image = np.asarray(Image.open(photo).convert("RGB"))[:375, :500]
    logits = realistic_unary(image, num_classes=21, seed=iterations)
    expected = pydensecrf_q(logits, image, iterations)
    q = DenseCRF(num_iterations=iterations, **REFERENCE_PARAMS)([logits[None], image[None]]).numpy()[0]
    assert (q.argmax(-1) == expected.argmax(-1)).mean() >= 0.99
    assert np.abs(q - expected).mean() <= 1e-4
    assert (q.argmax(-1) != logits.argmax(-1)).mean() > 0.01  # the CRF did change the labelling


def test_lattice_approximation_against_exact_mean_field():
    # The permutohedral lattice approximates the Gaussians; after one iteration the Q of
    # the layer is within mean 5e-3 / max 3e-2 of the exact O(N^2) mean field (measured:
    # 2.3e-3 / 1.7e-2), and pydensecrf has the same error (it is the same approximation).
    rng = np.random.RandomState(0)
    h, w, c = 24, 32, 4
    image = np.zeros((h, w, 3), np.uint8)
    image[:, :16] = (200, 40, 40)
    image[:, 16:] = (40, 60, 200)
    image[8:16, 6:26] = (40, 200, 40)
    image = np.clip(image + rng.randint(-10, 10, image.shape), 0, 255).astype(np.uint8)
    logits = (rng.randn(h, w, c) * 1.5).astype(np.float32)
    params = dict(theta_alpha=8.0, theta_beta=13.0, theta_gamma=2.0, w1=5.0, w2=3.0)
    exact = brute_force_dense_crf(logits, image, 1, **params)
    layer = DenseCRF(1, theta_alpha=8.0, theta_beta=13.0, theta_gamma=2.0, bilateral_weight=5.0, spatial_weight=3.0)
    q = layer([logits[None], image[None]]).numpy()[0]
    assert np.abs(q - exact).mean() <= 5e-3
    assert np.abs(q - exact).max() <= 3e-2
    assert (q.argmax(-1) == exact.argmax(-1)).mean() >= 0.99
    peer = pydensecrf_q(logits, image, 1, 8, 13, 2, 5, 3)
    assert np.abs(q - peer).max() <= 1e-5


def test_batch_members_do_not_interact():
    image, logits, _, _ = load_case(CASES[0])
    image2, logits2, _, _ = load_case(CASES[1])
    crf = DenseCRF(num_iterations=3, **REFERENCE_PARAMS)
    batch = crf([np.concatenate([logits, logits2]), np.concatenate([image, image2])]).numpy()
    np.testing.assert_allclose(batch[0], crf([logits, image]).numpy()[0], atol=1e-5)
    np.testing.assert_allclose(batch[1], crf([logits2, image2]).numpy()[0], atol=1e-5)


def test_defaults_are_deeplab_v2():
    crf = DenseCRF()
    assert crf.num_iterations == 10
    assert (crf.bilateral_weight, crf.theta_alpha, crf.theta_beta) == (4.0, 67.0, 3.0)
    assert (crf.spatial_weight, crf.theta_gamma) == (3.0, 3.0)


def test_learnable_potts_initialisation_equals_fixed_potts():
    rng = np.random.RandomState(3)
    logits = rng.randn(1, 20, 24, 5).astype("float32")
    image = rng.randint(0, 255, (1, 20, 24, 3)).astype("uint8")
    fixed = DenseCRF(num_iterations=3)([logits, image]).numpy()
    learnable = DenseCRF(num_iterations=3, learnable=True)
    np.testing.assert_allclose(learnable([logits, image]).numpy(), fixed, atol=1e-5)
    assert len(learnable.trainable_weights) == 3  # w1, w2, compatibility


def test_gradients_reach_logits_and_kernel_weights():
    rng = np.random.RandomState(0)
    logits = tf.Variable(rng.randn(1, 10, 12, 3).astype("float32"))
    image = rng.randint(0, 255, (1, 10, 12, 3)).astype("float32")
    crf = DenseCRF(num_iterations=2, learnable=True)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(crf([logits, image])[..., 1])
    grads = tape.gradient(loss, [logits] + crf.trainable_weights)
    assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)


def test_the_traced_graph_does_not_grow_with_the_number_of_iterations():
    # Unrolled, 10 iterations cost ~40 MB of graph per traced function (and its trace time).
    def graph_size(iterations):
        crf = DenseCRF(num_iterations=iterations)
        traced = tf.function(lambda a, b: crf([a, b])).get_concrete_function(
            tf.TensorSpec([1, None, None, 4]), tf.TensorSpec([1, None, None, 3])
        )
        graph = traced.graph.as_graph_def()
        return len(graph.node) + sum(len(function.node_def) for function in graph.library.function)

    assert graph_size(2) == graph_size(20)


def test_an_eager_call_runs_one_traced_graph_equal_to_graph_mode(tmp_path):
    rng = np.random.RandomState(2)
    crf = DenseCRF(num_iterations=3)
    graph = tf.function(lambda a, b: crf([a, b]))
    for height, width in ((10, 12), (14, 9), (7, 16)):
        logits = rng.randn(1, height, width, 4).astype("float32")
        image = rng.randint(0, 255, (1, height, width, 3)).astype("float32")
        want = graph(logits, image).numpy()
        np.testing.assert_allclose(crf([logits, image]).numpy(), want, atol=1e-6)
    assert crf._eager.function.experimental_get_tracing_count() <= 2  # shapes relaxed after the first retrace
    logits_in, image_in = keras.Input((None, None, 4)), keras.Input((None, None, 3))
    model = keras.Model([logits_in, image_in], crf([logits_in, image_in]))
    model.export(str(tmp_path / "exported"), format="tf_saved_model", verbose=False)  # eager traces stay out
    loaded = tf.saved_model.load(str(tmp_path / "exported"))  # held: its variables live as long as it does
    np.testing.assert_allclose(loaded.serve([logits, image]).numpy(), want, atol=1e-6)


def test_layer_config_round_trip():
    crf = DenseCRF(num_iterations=4, theta_alpha=50.0, learnable=True)
    config = json.loads(json.dumps(crf.get_config()))
    assert DenseCRF.from_config(config).get_config() == crf.get_config()


def test_save_and_load(tmp_path):
    logits_in = keras.Input((None, None, 3))
    image_in = keras.Input((None, None, 3))
    model = keras.Model([logits_in, image_in], DenseCRF(num_iterations=2, learnable=True)([logits_in, image_in]))
    rng = np.random.RandomState(1)
    run_model_saving_test(
        model, [rng.randn(2, 16, 20, 3).astype("float32"), rng.uniform(0, 255, (2, 16, 20, 3)).astype("float32")], tmp_path
    )


def test_runs_in_an_exported_saved_model_with_batch_2(tmp_path):
    logits_in = keras.Input((None, None, 21), name="logits")
    image_in = keras.Input((None, None, 3), name="image")
    model = keras.Model([logits_in, image_in], DenseCRF(num_iterations=5, **REFERENCE_PARAMS)([logits_in, image_in]))
    path = str(tmp_path / "crf_saved_model")
    model.export(path, format="tf_saved_model", verbose=False)
    served = tf.saved_model.load(path)
    image, logits, _, _ = load_case(CASES[0])
    image2, logits2, _, _ = load_case(CASES[1])
    batch_logits = np.concatenate([logits, logits2])
    batch_images = np.concatenate([image, image2]).astype("float32")
    got = served.serve([batch_logits, batch_images]).numpy()
    np.testing.assert_allclose(got, model([batch_logits, batch_images]).numpy(), atol=1e-5)
    assert got.shape == (2, 240, 320, 21)
    small = served.serve([batch_logits[:1, :40, :50], batch_images[:1, :40, :50]]).numpy()
    assert small.shape == (1, 40, 50, 21)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_iterations": 0}, "num_iterations >= 1"),
        ({"theta_alpha": 0.0}, "theta_alpha > 0"),
        ({"theta_beta": -3.0}, "theta_beta > 0"),
        ({"theta_gamma": 0.0}, "theta_gamma > 0"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DenseCRF(**kwargs)


@pytest.mark.parametrize(
    "logits_shape, image_shape, message",
    [
        ((1, 8, 8, 3), (1, 9, 8, 3), "differ in height"),
        ((1, 8, 8, 3), (1, 8, 8, 1), "RGB image with 3 channels"),
        ((1, 8, 8, 1), (1, 8, 8, 3), "classes >= 2"),
    ],
)
def test_bad_inputs(logits_shape, image_shape, message):
    with pytest.raises(ValueError, match=message):
        DenseCRF()([np.zeros(logits_shape, "float32"), np.zeros(image_shape, "float32")])


def test_gather_implementation_equals_sparse_matmul_and_converts_to_onnx():
    import onnxruntime
    import tf2onnx

    image, logits, _, _ = load_case(CASES[1])
    image, logits = image[:, :60, :80], logits[:, :60, :80]
    fast = DenseCRF(num_iterations=3, **REFERENCE_PARAMS)([logits, image]).numpy()
    layer = DenseCRF(num_iterations=3, implementation="gather", **REFERENCE_PARAMS)
    np.testing.assert_allclose(layer([logits, image]).numpy(), fast, atol=1e-5)

    spec = [tf.TensorSpec([None, None, None, 21], tf.float32, name="logits"),
            tf.TensorSpec([None, None, None, 3], tf.float32, name="image")]
    proto, _ = tf2onnx.convert.from_function(tf.function(lambda a, b: layer([a, b])), input_signature=spec, opset=17)
    session = onnxruntime.InferenceSession(proto.SerializeToString())
    got = session.run(None, {"logits": logits, "image": image.astype("float32")})[0]
    np.testing.assert_allclose(got, fast, atol=1e-4)


def test_unknown_implementation():
    with pytest.raises(ValueError, match="implementation in"):
        DenseCRF(implementation="hash")


def test_lattice_feature_count_is_checked_by_name():
    from kseg.layers.crf.permutohedral import MAX_FEATURES, build_lattice

    with pytest.raises(ValueError, match=f"1 to {MAX_FEATURES} features per point"):
        build_lattice(tf.zeros([4, MAX_FEATURES + 1]))
