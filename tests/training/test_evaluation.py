"""Scoring a split and writing its report (kseg/training/evaluation.py): the streamed confusion
matrix equals NumPy's over the labelled pixels, every batch is seen once, and the report names
each class (one in neither labels nor predictions as "-")."""

import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from kseg.training.evaluation import evaluate_dataset, write_report


def test_streamed_scores_equal_numpy_and_the_report_names_every_class(tmp_path):
    rng = np.random.default_rng(0)
    masks = rng.integers(0, 3, (4, 5, 6)).astype(np.int32)
    masks[0, 0] = 255
    logits = rng.normal(size=(4, 5, 6, 4)).astype(np.float32)  # class 3 predicted, never labelled
    dataset = tf.data.Dataset.from_tensor_slices((logits, masks)).batch(3)  # 3 + 1 pictures
    seen = []
    scores = evaluate_dataset(lambda x, training=False: x, dataset, 4, on_batch=lambda images, m, s: seen.append(len(m)))
    assert seen == [3, 1]
    labelled = masks != 255
    confusion = np.zeros((4, 4), np.int64)
    np.add.at(confusion, (masks[labelled], logits.argmax(-1)[labelled]), 1)
    np.testing.assert_array_equal(np.asarray(scores["confusion"]), confusion)
    union = confusion.sum(0) + confusion.sum(1) - np.diag(confusion)
    iou = np.diag(confusion) / union  # class 3: predicted, never labelled -> 0, and it counts
    assert abs(scores["mean_iou"] - iou.mean()) < 1e-6 and union.min() > 0

    json_path, md_path = write_report(scores, ["bg", "a", "b", "unseen"], str(tmp_path), title="val", details={"crf": None})
    with open(json_path) as f:
        report = json.load(f)
    assert list(report["per_class_iou"]) == ["bg", "a", "b", "unseen"] and report["crf"] is None
    assert report["compute_dtype"] == "float32"
    assert report["confusion_matrix"] == confusion.tolist()
    dice = 2 * np.diag(confusion) / (confusion.sum(0) + confusion.sum(1))
    assert report["per_class_dice"] == dict(zip(["bg", "a", "b", "unseen"], dice.tolist())) and report["mean_dice"] == pytest.approx(dice.mean())
    text = pathlib.Path(md_path).read_text()
    assert text.startswith("# val\n") and "| unseen | 0.00 | 0.00 | - |" in text  # predicted, never labelled
    assert f"mean Dice {100 * dice.mean():.2f}%" in text and "| class | IoU (%) | Dice (%) | accuracy (%) |" in text
    absent = dict(scores, per_class_iou=[*scores["per_class_iou"][:3], float("nan")])  # a class in neither
    json_path, md_path = write_report(absent, ["bg", "a", "b", "unseen"], str(tmp_path), compute_dtype="bfloat16")
    assert json.loads(pathlib.Path(json_path).read_text())["per_class_iou"]["unseen"] is None
    assert json.loads(pathlib.Path(json_path).read_text())["compute_dtype"] == "bfloat16"
    assert "% (computed in bfloat16)\n" in pathlib.Path(md_path).read_text()  # a run's own, under train.precision: auto
    assert "| unseen | - |" in pathlib.Path(md_path).read_text()
