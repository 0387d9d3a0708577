import json

import numpy as np
import pytest
import tensorflow as tf

from kseg.metrics import ConfusionMatrixMetric


def _numpy_scores(labels, preds, n, ignore=255):
    valid = labels != ignore
    cm = np.zeros((n, n))
    np.add.at(cm, (labels[valid], preds[valid]), 1)
    tp = np.diag(cm)
    union = cm.sum(0) + cm.sum(1) - tp
    iou = np.array([tp[c] / union[c] if union[c] else np.nan for c in range(n)])
    acc = np.array([tp[c] / cm[c].sum() if cm[c].sum() else np.nan for c in range(n)])
    return cm, iou, np.nanmean(iou), tp.sum() / cm.sum(), np.nanmean(acc)


def test_streaming_over_batches_equals_whole_dataset_numpy():
    rng = np.random.RandomState(0)
    n = 5
    metric = ConfusionMatrixMetric(num_classes=n)
    all_labels, all_preds = [], []
    for batch in range(4):
        labels = rng.randint(0, n, (2, 9, 11))
        labels[rng.rand(2, 9, 11) < 0.1] = 255
        if batch == 1:
            labels[labels == 3] = 0  # a batch where class 3 is absent
        logits = rng.randn(2, 9, 11, n).astype("float32")
        metric.update_state(labels, logits)
        all_labels.append(labels)
        all_preds.append(logits.argmax(-1))
    cm, iou, miou, pixel_acc, mean_acc = _numpy_scores(np.concatenate(all_labels), np.concatenate(all_preds), n)
    scores = metric.scores()
    np.testing.assert_array_equal(scores["confusion"], cm)
    np.testing.assert_allclose(scores["per_class_iou"], iou, rtol=1e-12)
    assert scores["mean_iou"] == pytest.approx(miou)
    assert float(metric.result()) == pytest.approx(miou, rel=1e-6)
    assert scores["pixel_accuracy"] == pytest.approx(pixel_acc)
    assert scores["mean_accuracy"] == pytest.approx(mean_acc)
    # Dice from the label maps themselves: 2 |P & L| / (|P| + |L|) over the labelled pixels
    labels, preds = np.concatenate(all_labels), np.concatenate(all_preds)
    valid = labels != 255
    dice = np.array([2 * np.sum((labels == c) & (preds == c) & valid) / (np.sum((labels == c) & valid) + np.sum((preds == c) & valid))
                     for c in range(n)])
    np.testing.assert_allclose(scores["per_class_dice"], dice, rtol=1e-12)
    assert scores["mean_dice"] == pytest.approx(dice.mean())
    np.testing.assert_allclose(scores["per_class_accuracy"], [np.sum((labels == c) & (preds == c)) / np.sum(labels == c) for c in range(n)])
    # A per-batch average of mIoU would differ: the metric must not be one.
    per_batch = []
    for labels, preds in zip(all_labels, all_preds):
        per_batch.append(_numpy_scores(labels, preds, n)[2])
    assert abs(np.mean(per_batch) - miou) > 1e-4


def test_class_absent_everywhere_is_left_out_of_the_mean():
    labels = np.array([[[0, 0, 1, 1, 255]]])
    preds = np.array([[[0, 1, 1, 1, 2]]])
    metric = ConfusionMatrixMetric(num_classes=3, from_logits=False)
    metric.update_state(labels, preds)
    scores = metric.scores()
    assert np.isnan(scores["per_class_iou"][2])  # the prediction 2 falls on an ignored pixel
    np.testing.assert_allclose(scores["per_class_iou"][:2], [1 / 2, 2 / 3])
    assert scores["mean_iou"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert scores["pixel_accuracy"] == pytest.approx(3 / 4)
    assert scores["mean_accuracy"] == pytest.approx((1 / 2 + 1) / 2)
    assert np.isnan(scores["per_class_dice"][2]) and np.isnan(scores["per_class_accuracy"][2])
    np.testing.assert_allclose(scores["per_class_dice"][:2], [2 / 3, 4 / 5])  # 2*1/(2+1), 2*2/(3+2)
    assert scores["mean_dice"] == pytest.approx((2 / 3 + 4 / 5) / 2)


def test_reset_and_config():
    metric = ConfusionMatrixMetric(num_classes=4, ignore_label=0)
    metric.update_state(np.array([[1, 2]]), np.eye(4, dtype="float32")[[[1, 3]]])
    assert metric.scores()["confusion"].sum() == 2
    metric.reset_state()
    assert metric.scores()["confusion"].sum() == 0
    config = json.loads(json.dumps(metric.get_config()))
    assert ConfusionMatrixMetric.from_config(config).ignore_label == 0


def test_counts_are_exact_beyond_float32_range():
    metric = ConfusionMatrixMetric(num_classes=2, from_logits=False)
    metric.confusion.assign([[2.0**25, 0], [0, 0]])
    metric.update_state(np.zeros((1, 1, 1), "int32"), np.zeros((1, 1, 1), "int32"))
    assert metric.scores()["confusion"][0, 0] == 2.0**25 + 1


def test_label_out_of_range_is_an_error():
    metric = ConfusionMatrixMetric(num_classes=3, from_logits=False)
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_classes=3"):
        metric.update_state(np.array([[[0, 7]]]), np.array([[[0, 1]]]))


def test_bad_num_classes():
    with pytest.raises(ValueError, match="num_classes >= 2"):
        ConfusionMatrixMetric(num_classes=1)


def test_in_compile_and_evaluate():
    import keras

    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(3, 1)(inputs))
    metric = ConfusionMatrixMetric(num_classes=3)
    model.compile(loss="sparse_categorical_crossentropy", metrics=[metric])
    x = np.random.rand(4, 4, 4, 3).astype("float32")
    y = np.random.randint(0, 3, (4, 4, 4))
    result = model.evaluate(x, y, batch_size=2, verbose=0, return_dict=True)
    preds = model.predict(x, verbose=0).argmax(-1)
    assert result["mean_iou"] == pytest.approx(_numpy_scores(y, preds, 3)[2], rel=1e-5)


def test_update_compiles_under_xla_and_counts_like_numpy():
    """`train.jit_compile` compiles the metric into the train step: no data-dependent shapes."""
    rng = np.random.RandomState(1)
    n = 4
    labels = rng.randint(0, n, (2, 7, 6))
    labels[rng.rand(2, 7, 6) < 0.2] = 255
    logits = rng.randn(2, 7, 6, n).astype("float32")
    metric = ConfusionMatrixMetric(num_classes=n)
    tf.function(metric.update_state, jit_compile=True)(tf.constant(labels), tf.constant(logits))
    cm = _numpy_scores(labels, logits.argmax(-1), n)[0]
    np.testing.assert_array_equal(metric.scores()["confusion"], cm)
