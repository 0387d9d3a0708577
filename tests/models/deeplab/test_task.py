"""DeepLab v2's MSC training (§3.2, Tab. 4 "+MSC"): the loss is the sum of the losses on
every scale's output and on their max fusion, each against the labels at its own
resolution; with `train.loss_resolution: output_stride` the labels are subsampled to the
logits (§4) rather than the logits upsampled."""

import numpy as np
import pytest
import tensorflow as tf

import kseg
from kseg.layers.resize import subsample_labels
from kseg.training.config import ConfigError, load_config
from kseg.training.first_trace import build_before_first_trace
from kseg.training.tasks import get_task
from tests.tiny import TINY_RESNET, options_override

SCALES = (0.5, 0.75, 1.0)
SIDE = 49  # 8 k + 1, as DeepLab's 321 crops
NUM_CLASSES = 4


def _task(resolution, **options):
    config = load_config(overrides=[
        "model.architecture=deeplabv2", "model.backbone=resnet50", "model.output_stride=8",
        "data.format=voc", "data.root=/unused", f"data.num_classes={NUM_CLASSES}",
        "train.loss=cross_entropy", f"train.loss_resolution={resolution}", options_override(backbone_options=TINY_RESNET, aspp="S", **options),
    ])
    return get_task(config)


def _batch():
    rng = np.random.RandomState(0)
    images = rng.uniform(0, 255, (2, SIDE, SIDE, 3)).astype("float32")
    labels = rng.randint(0, NUM_CLASSES, (2, SIDE, SIDE)).astype("int32")
    labels[:, :5] = 255  # ignored rows
    return images, labels


def _numpy_cross_entropy(labels, logits):
    valid = labels != 255
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_probs, np.where(valid, labels, 0)[..., None], -1)[..., 0]
    return -(picked * valid).sum() / valid.sum()


def _numpy_subsample(labels, side):
    index = np.round(np.arange(side) * (labels.shape[1] - 1) / (side - 1)).astype(int)
    return labels[:, index][:, :, index]


@pytest.mark.parametrize("resolution", ["output_stride", "input"])
def test_msc_loss_is_the_sum_over_scales_and_fusion(resolution):
    task = _task(resolution, multi_scale=list(SCALES))
    model = task.build_model()
    task.compile(model, task.build_optimizers(steps=10))
    images, labels = _batch()
    outputs = {name: value.numpy() for name, value in model(images, training=False).items()}
    assert sorted(outputs) == ["logits", "logits_0.5", "logits_0.75", "logits_1"]
    sides = {name: value.shape[1] for name, value in outputs.items()}
    if resolution == "output_stride":
        assert sides == {"logits": 7, "logits_0.5": 4, "logits_0.75": 5, "logits_1": 7}  # ceil(ceil(49 s) / 8)
    else:
        assert set(sides.values()) == {SIDE}
    expected = sum(
        _numpy_cross_entropy(_numpy_subsample(labels, side) if side != SIDE else labels, outputs[name])
        for name, side in sides.items()
    )
    targets = next(iter(task.training_targets(tf.data.Dataset.from_tensors((images, labels)), model)))[1]
    assert sorted(targets) == sorted(outputs)
    predictions = model(images, training=False)
    loss = model.compute_loss(x=images, y=targets, y_pred=predictions, training=False)  # what fit's train step minimises
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_fused_training_outputs_are_the_max_over_scales_and_inference_keeps_the_weights():
    images, _ = _batch()
    strided = _task("output_stride", multi_scale=list(SCALES)).build_model()
    outputs = strided(images, training=False)
    resized = [tf.image.resize(outputs[f"logits_{s:g}"], (7, 7)) for s in SCALES]
    np.testing.assert_allclose(outputs["logits"], np.max(resized, axis=0), atol=1e-5)  # the release's fusion
    upsampled = _task("input", multi_scale=list(SCALES)).build_model()
    upsampled.set_weights(strided.get_weights())
    full = upsampled(images, training=False)
    np.testing.assert_allclose(full["logits"], np.max([full[f"logits_{s:g}"] for s in SCALES], axis=0), atol=1e-6)
    for model in (strided, upsampled):
        inference = model.inference_model()
        assert inference.output_names == ["logits"] and inference.count_params() == model.count_params()
        np.testing.assert_allclose(inference(images), full["logits"], atol=1e-5)  # §3.2: upsampled, then max


def test_one_msc_training_step_runs_through_the_task():
    task = _task("output_stride", multi_scale=list(SCALES))
    model = task.build_model()
    task.compile(model, task.build_optimizers(steps=10))
    images, labels = _batch()
    stream = task.training_targets(tf.data.Dataset.from_tensors((images, labels)), model)
    build_before_first_trace(model, stream)  # as the training loop does
    history = model.fit(stream, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and "logits_mean_iou" in history.history


def test_subsample_labels_takes_the_pixel_each_cell_is_centred_on():
    labels = np.arange(321)[None, :, None] * 1000 + np.arange(321)[None, None, :]
    subsampled = subsample_labels(labels, (41, 41)).numpy()[0]
    np.testing.assert_array_equal(subsampled, labels[0, ::8, ::8])
    assert subsample_labels(labels[..., None], (41, 41)).shape == (1, 41, 41, 1)


def test_subsampled_loss_and_metric_round_trip():
    loss = kseg.losses.SubsampledLabelsLoss(kseg.losses.OHEMCrossEntropy(threshold=0.7, min_kept=5))
    copy = kseg.losses.SubsampledLabelsLoss.from_config(loss.get_config())
    assert copy.loss.threshold == 0.7 and copy.loss.min_kept == 5
    metric = kseg.metrics.ConfusionMatrixMetric(3, subsample_labels=True)
    assert kseg.metrics.ConfusionMatrixMetric.from_config(metric.get_config()).subsample_labels
    labels = np.array([[[0, 9, 1], [9, 9, 9], [2, 9, 0]]])
    logits = tf.one_hot([[[0, 1], [2, 0]]], 3)
    metric.update_state(labels, logits)
    assert metric.result().numpy() == 1.0


def test_loss_resolution_is_refused_where_it_does_not_apply():
    with pytest.raises(ConfigError, match=r"train.loss_resolution must be 'input' for model.architecture=pan .*deeplabv2"):
        load_config(overrides=["train.loss_resolution=output_stride"])
    with pytest.raises(ConfigError, match=r"train.loss_resolution must be one of \['input', 'output_stride'\]"):
        load_config(overrides=["model.architecture=deeplabv2", "train.loss_resolution=stride"])
    with pytest.raises(ValueError, match="training_outputs are logits"):
        kseg.models.DeepLabV2(3, backbone="resnet50", training_outputs="input", activation="softmax",
                              backbone_options=TINY_RESNET)


def test_the_training_model_round_trips_through_keras_files_and_checkpoints(tmp_path):
    import keras

    from kseg.training.checkpoint import complete_checkpoint

    model = _task("output_stride", multi_scale=list(SCALES)).build_model()
    images, _ = _batch()
    path = str(tmp_path / "msc.keras")
    model.save(path)
    again = keras.saving.load_model(path, compile=False)
    before, after = model(images, training=False), again(images, training=False)
    assert sorted(after) == sorted(before)
    for name in before:
        np.testing.assert_array_equal(after[name], before[name])
    saved = complete_checkpoint(model=model).write(str(tmp_path / "ckpt"))
    fresh = _task("output_stride", multi_scale=list(SCALES)).build_model()
    complete_checkpoint(model=fresh).read(saved).assert_consumed()
    for a, b in zip(fresh.weights, model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
