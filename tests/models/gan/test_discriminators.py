"""The discriminators (kseg/models/gan/discriminators.py): Seg-GAN's strided convs with ConvCRFs
(§3.2) and SS-GAN's (label map, image) product fusion, laid out as in the papers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kseg
from tests.models.gan.test_adversarial import NUM_CLASSES, _batch


@pytest.mark.parametrize("size, expected", [((64, 64), (2, 2)), ((70, 96), (3, 3)), ((33, 31), (2, 1))])
def test_seggan_discriminator_map_follows_the_input_size(size, expected):
    d = kseg.models.SegGANDiscriminator(NUM_CLASSES, filters=(8, 8, 8, 8, 1), crf_filter_size=3, crf_blur=2)
    out = d([tf.fill((2, *size, NUM_CLASSES), 1 / NUM_CLASSES), tf.zeros((2, *size, 3))])
    assert out.shape == (2, *expected, 1) and out.dtype == tf.float32


def test_seggan_discriminator_paper_layout():
    d = kseg.models.SegGANDiscriminator(21)
    convs = [layer for layer in d.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [64, 128, 256, 512, 1]
    assert all(c.strides == (2, 2) and c.kernel_size == (3, 3) for c in convs)
    leaky = [layer for layer in d.layers if isinstance(layer, keras.layers.LeakyReLU)]
    assert len(leaky) == 4 and all(abs(float(layer.negative_slope) - 0.2) < 1e-7 for layer in leaky)
    crfs = [layer for layer in d.layers if isinstance(layer, kseg.layers.ConvCRF)]
    assert len(crfs) == 4 and all(c.learnable for c in crfs)
    # The ConvCRFs are guided by the image: another image changes D's judgement of one label map.
    small = kseg.models.SegGANDiscriminator(NUM_CLASSES, filters=(4, 4, 4, 4, 1), crf_filter_size=3, crf_blur=1)
    labels = tf.one_hot(np.random.default_rng(1).integers(0, NUM_CLASSES, (1, 32, 32)), NUM_CLASSES)
    a = small([labels, tf.zeros((1, 32, 32, 3))]).numpy()
    b = small([labels, tf.fill((1, 32, 32, 3), 200.0) * tf.cast(tf.range(32)[None, :, None, None] > 16, tf.float32)]).numpy()
    assert np.abs(a - b).max() > 1e-6
    plain = kseg.models.SegGANDiscriminator(NUM_CLASSES, crf_modules=0)
    assert not any(isinstance(layer, kseg.layers.ConvCRF) for layer in plain.layers)


def test_ssgan_discriminator_layout_and_product_fusion():
    d = kseg.models.SSGANDiscriminator(NUM_CLASSES)
    out = d([tf.fill((2, 64, 48, NUM_CLASSES), 1 / NUM_CLASSES), tf.zeros((2, 64, 48, 3))])
    assert out.shape == (2, 16, 12, 1)
    kinds = [type(layer).__name__ for layer in d.layers if type(layer).__name__ in ("Conv2D", "AveragePooling2D")]
    assert kinds == ["Conv2D", "AveragePooling2D", "Conv2D", "AveragePooling2D", "Conv2D", "Conv2D"]
    convs = [layer for layer in d.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [128, 256, 512, 1] and convs[1].kernel_size == (3, 3)
    # product fusion = image x each class channel (NumPy reference), concat = side by side
    rng = np.random.default_rng(0)
    labels = rng.uniform(size=(1, 4, 5, NUM_CLASSES)).astype("float32")
    image = rng.uniform(-1, 1, (1, 4, 5, 3)).astype("float32")
    fused = kseg.models.gan.discriminators.ProductFusion()([labels, image]).numpy()
    expected = np.concatenate([labels[..., c : c + 1] * image for c in range(NUM_CLASSES)], axis=-1)
    np.testing.assert_allclose(fused, expected, rtol=1e-6)
    concat = kseg.models.SSGANDiscriminator(NUM_CLASSES, fusion="concat")
    assert concat.get_layer("conv1").kernel.shape == (3, 3, NUM_CLASSES + 3, 128)
    assert d.get_layer("conv1").kernel.shape == (3, 3, 3 * NUM_CLASSES, 128)


@pytest.mark.parametrize("make", [
    lambda: kseg.models.SegGANDiscriminator(NUM_CLASSES, filters=(8, 8, 8, 8, 1), crf_filter_size=3, crf_blur=2),
    lambda: kseg.models.SSGANDiscriminator(NUM_CLASSES, fusion="concat", filters=(8, 8)),
])
def test_discriminators_round_trip_with_identical_outputs(make, tmp_path):
    d = make()
    images, labels = _batch(size=32)
    inputs = [tf.one_hot(np.where(labels == 255, 0, labels), NUM_CLASSES), tf.constant(images)]
    expected = d(inputs).numpy()
    d.save(str(tmp_path / "d.keras"))
    restored = keras.saving.load_model(str(tmp_path / "d.keras"))
    assert type(restored) is type(d) and restored.get_config() == d.get_config()
    np.testing.assert_allclose(restored(inputs).numpy(), expected, atol=1e-6)
