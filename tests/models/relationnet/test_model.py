"""RelationNet: shapes, the training heads and their losses, the inference model, round trips."""

import keras
import numpy as np
import tensorflow as tf

import kseg
from tests.layer_case import run_model_saving_test

TINY_BLOCKS = ((1, (8, 8)), (1, (8, 8)), (1, (16, 16)), (1, (16, 24)), (1, (8, 16, 24)), (1, (8, 16, 32)))
TINY = dict(hidden_size=4, reduce_filters=8, similarity_hidden=8, backbone_blocks=TINY_BLOCKS)


def _images(size=32, batch=2):
    return np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)).astype("float32")


def test_full_size_builds_with_the_papers_parts():
    model = kseg.models.RelationNet(num_classes=19)
    assert model(_images(32, 1)).shape == (1, 32, 32, 19)
    assert isinstance(model.get_layer("relation"), kseg.layers.RelationModule)
    assert model.backbone.get_layer("block7_unit1_conv2").__class__ is kseg.layers.DeformableConv2D


def test_training_heads_train_with_ohem_and_scl_and_drop_for_inference(tmp_path):
    model = kseg.models.RelationNet(num_classes=3, training_heads=True, **TINY)
    x = _images(40)
    out = model(x)
    assert out["logits"].shape == (2, 40, 40, 3) and out["similarity"].shape == (2, 5, 5, 9)
    labels = np.random.default_rng(1).integers(0, 3, (2, 40, 40)).astype("int32")
    labels[:, :4] = 255
    model.compile(
        optimizer=keras.optimizers.SGD(0.01),
        loss={"logits": kseg.losses.OHEMCrossEntropy(min_kept=100), "similarity": kseg.losses.SpatialCorrelationLoss()},
        loss_weights={"logits": 1.0, "similarity": 0.1},  # eq. 2, lambda = 0.1
        run_eagerly=True,  # one step: tracing it costs more (the traced step: tests/models/relationnet/test_task.py)
    )
    before = model.get_layer("similarity").get_weights()[0].copy()
    logs = model.train_on_batch(x, {"logits": labels, "similarity": labels}, return_dict=True)
    assert np.isfinite(logs["loss"])
    assert np.abs(model.get_layer("similarity").get_weights()[0] - before).max() > 0  # SCL trains the subnet
    inference = model.without_training_heads()
    np.testing.assert_allclose(inference(x).numpy(), model(x)["logits"].numpy(), atol=1e-5)
    assert not any(isinstance(layer, kseg.layers.SimilarityHead) for layer in inference.layers)
    run_model_saving_test(inference, x, tmp_path)


def test_saved_model_export_of_the_inference_model(tmp_path):
    from kseg.serving import export_saved_model

    model = kseg.models.RelationNet(num_classes=3, **TINY)
    path = export_saved_model(model, str(tmp_path / "serving"), "relationnet", version=1)
    loaded = tf.saved_model.load(path)
    x = _images(24, 1)
    labels = loaded.signatures["predict_tensor"](images=tf.constant(x))["labels"].numpy()
    np.testing.assert_array_equal(labels, np.argmax(model(x).numpy(), -1))


def test_training_model_round_trip_keeps_both_outputs(tmp_path):
    model = kseg.models.RelationNet(num_classes=3, training_heads=True, **TINY)
    x = _images(24, 1)
    expected = {k: v.numpy() for k, v in model(x).items()}
    model.save(str(tmp_path / "train.keras"))
    restored = keras.saving.load_model(str(tmp_path / "train.keras"))
    assert restored.training_heads and restored.get_config() == model.get_config()
    for key, value in restored(x).items():
        np.testing.assert_allclose(value.numpy(), expected[key], atol=1e-5)
