"""SS-GAN's generators (kseg/models/gan/generators.py): Table 1's ResNet-50 and VGG16 layouts,
the VGG16 fc layers as the ImageNet classifier's convolutions."""

import keras
import numpy as np
import tensorflow as tf

import kseg


def test_ssgan_generators_follow_table_1():
    resnet = kseg.models.SSGANGenerator(5, backbone="resnet50")
    assert resnet(tf.zeros((1, 64, 48, 3))).shape == (1, 64, 48, 5)
    assert resnet.output_stride == 8 and resnet.get_layer("enhanced_aspp").rates == (12, 24, 36)
    assert resnet.get_layer("conv6").filters == 256
    vgg = kseg.models.SSGANGenerator(5, backbone="vgg16")
    assert vgg(tf.zeros((1, 70, 70, 3))).shape == (1, 70, 70, 5)
    fc6, fc7 = vgg.backbone.get_layer("fc6"), vgg.backbone.get_layer("fc7")
    assert fc6.kernel.shape == (7, 7, 512, 4096) and fc7.kernel.shape == (1, 1, 4096, 4096)
    assert vgg.output_stride == 32


def test_vgg16_g_fc_layers_are_the_imagenet_classifier_as_convolutions(tmp_path):
    # FCN-style: at 224x224 the 7x7 fc6 at the centre of the 7x7 pool5 map sees exactly what
    # keras.applications' fc1 sees, so fc7 there equals its fc2 output.
    reference = keras.applications.VGG16(include_top=True, weights=None)
    path = str(tmp_path / "vgg16.weights.h5")
    reference.save_weights(path)
    backbone = kseg.backbones.VGG16Backbone(
        output_stride=32, pool_size=2, fc_filters=4096, fc_kernel_size=7, fc_rate=1, dropout_rate=0.0, weights=path
    )
    x = np.random.default_rng(0).uniform(0, 255, (1, 224, 224, 3)).astype("float32")
    fc2 = keras.Model(reference.input, reference.get_layer("fc2").output)
    expected = fc2(keras.applications.vgg16.preprocess_input(x.copy())).numpy()
    got = backbone(x)["fc7"].numpy()[:, 3, 3]
    assert np.abs(expected).max() > 1e-3
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
