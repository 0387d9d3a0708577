import keras
import numpy as np
import pytest

from kseg.backbones import ResNet50, ResNetBackbone, get_backbone


def _images(size=64, batch=2, seed=0):
    return np.random.RandomState(seed).uniform(0, 255, (batch, size, size, 3)).astype("float32")


def _randomize_batchnorm(model, seed=0):
    """Non-trivial BN statistics so that the mapping of every BN weight matters."""
    rng = np.random.RandomState(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([
                rng.uniform(0.2, 0.6, c), rng.uniform(-0.2, 0.2, c), rng.uniform(-0.2, 0.2, c), rng.uniform(0.8, 1.5, c)
            ])


@pytest.mark.parametrize("depth, application", [(50, keras.applications.ResNet50), (101, keras.applications.ResNet101)])
def test_weight_mapping_from_keras_applications(depth, application, tmp_path):
    reference = application(include_top=False, weights=None, input_shape=(None, None, 3))
    _randomize_batchnorm(reference)
    path = str(tmp_path / f"resnet{depth}_notop.weights.h5")
    reference.save_weights(path)

    backbone = ResNetBackbone(depth, output_stride=32, weights=path)
    x = _images()
    features = backbone(x, training=False)
    expected = reference(keras.applications.resnet.preprocess_input(x.copy()), training=False).numpy()
    got = features["P5"].numpy()
    assert got.shape == expected.shape == (2, 2, 2, 2048)
    assert np.abs(expected).max() > 1e-3  # the comparison is not between zeros
    assert np.abs(got - expected).max() <= 1e-4

    probe = keras.Model(reference.input, reference.get_layer("conv3_block4_out").output)
    expected_p3 = probe(keras.applications.resnet.preprocess_input(x.copy()), training=False).numpy()
    assert np.abs(features["P3"].numpy() - expected_p3).max() <= 1e-4


@pytest.mark.parametrize("output_stride, sizes", [(32, (16, 8, 4, 2)), (16, (16, 8, 4, 4)), (8, (16, 8, 8, 8))])
def test_feature_levels_and_output_stride(output_stride, sizes):
    backbone = ResNet50(output_stride=output_stride)
    features = backbone(_images(batch=1))
    assert sorted(features) == ["P2", "P3", "P4", "P5"]
    assert tuple(features[k].shape[1] for k in ("P2", "P3", "P4", "P5")) == sizes
    assert tuple(features[k].shape[-1] for k in ("P2", "P3", "P4", "P5")) == (256, 512, 1024, 2048)


def test_dilation_rates_follow_deeplab_and_pan():
    os8 = ResNet50(output_stride=8)
    assert os8.get_layer("conv4_block1_1_conv").strides == (1, 1)
    assert os8.get_layer("conv4_block1_2_conv").dilation_rate == (2, 2)  # DeepLab: conv4 rate 2
    assert os8.get_layer("conv5_block1_2_conv").dilation_rate == (4, 4)  # DeepLab: conv5 rate 4
    assert os8.get_layer("conv5_block3_2_conv").dilation_rate == (4, 4)
    os16 = ResNet50(output_stride=16)
    assert os16.get_layer("conv4_block1_1_conv").strides == (2, 2)
    assert os16.get_layer("conv4_block1_2_conv").dilation_rate == (1, 1)
    assert os16.get_layer("conv5_block1_2_conv").dilation_rate == (2, 2)  # PAN: res5 rate 2


@pytest.mark.parametrize("output_stride, step", [(16, 2), (8, 4)])
def test_dilated_network_computes_the_dense_version_of_the_undilated_one(output_stride, step):
    # Atrous convolution's promise (DeepLab §3.1): with the same weights, the dilated
    # network's responses at every step-th position are the undilated network's.
    sparse = ResNet50(output_stride=32)
    _randomize_batchnorm(sparse, 1)
    dense = ResNet50(output_stride=output_stride)
    dense.set_weights(sparse.get_weights())
    x = _images(size=64, batch=1, seed=3)
    expected = sparse(x, training=False)["P5"].numpy()
    got = dense(x, training=False)["P5"].numpy()[:, ::step, ::step]
    np.testing.assert_allclose(got, expected, atol=1e-4 * np.abs(expected).max())


def test_deep_stem_maps_the_rest_and_warns(tmp_path):
    reference = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(None, None, 3))
    path = str(tmp_path / "resnet50.weights.h5")
    reference.save_weights(path)
    with pytest.warns(UserWarning, match="stem_conv1"):
        backbone = ResNetBackbone(50, output_stride=16, deep_stem=True, weights=path)
    assert backbone.get_layer("stem_conv3").kernel.shape == (3, 3, 64, 128)
    np.testing.assert_array_equal(
        backbone.get_layer("conv4_block2_2_conv").get_weights()[0],
        reference.get_layer("conv4_block2_2_conv").get_weights()[0],
    )
    assert backbone(_images(batch=1))["P5"].shape == (1, 4, 4, 2048)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"output_stride": 12}, r"output_stride in \(8, 16, 32\)"),
        ({"depth": 34}, r"depth in \(50, 101\)"),
        ({"input_shape": (None, None, 4)}, "3\\)"),
        ({"weights": "/nonexistent/weights.h5"}, "No file at weights='/nonexistent/weights.h5'"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ResNetBackbone(**{"depth": 50, **kwargs})


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_weights_of_another_architecture_are_rejected(tmp_path):
    path = str(tmp_path / "vgg.weights.h5")
    keras.applications.VGG16(include_top=False, weights=None).save_weights(path)
    with pytest.raises(ValueError, match="Could not load weights"):
        ResNetBackbone(50, weights=path)


def test_get_backbone_lists_valid_names():
    with pytest.raises(ValueError, match=r"Unknown backbone 'resnet18'. Expected one of \['resnet101', 'resnet50', 'vgg16', 'wide_resnet38'\]"):
        get_backbone("resnet18")


def test_save_and_load(tmp_path):
    backbone = ResNet50(output_stride=8, deep_stem=True)
    x = _images(size=40, batch=1)
    expected = backbone(x, training=False)
    path = str(tmp_path / "backbone.keras")
    backbone.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, ResNetBackbone) and restored.get_config() == backbone.get_config()
    got = restored(x, training=False)
    for key in expected:
        np.testing.assert_allclose(got[key].numpy(), expected[key].numpy(), atol=1e-5)
