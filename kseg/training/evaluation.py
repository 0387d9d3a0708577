"""Scoring a model over a whole split and writing the report."""

import json
import os

import numpy as np

from kseg.metrics import ConfusionMatrixMetric


def evaluate_dataset(model, dataset, num_classes, ignore_label=255):
    """Stream `dataset` ((images, masks) batches) through `model`; returns `ConfusionMatrixMetric.scores()`."""
    metric = ConfusionMatrixMetric(num_classes, ignore_label=ignore_label)
    for images, masks in dataset:
        metric.update_state(masks, model(images, training=False))
    return metric.scores()


def write_report(scores, class_names, out_dir, title="Evaluation"):
    """Write `metrics.json` and `metrics.md` into `out_dir`; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    per_class = {
        name: (None if np.isnan(iou) else float(iou)) for name, iou in zip(class_names, scores["per_class_iou"])
    }
    report = {
        "mean_iou": scores["mean_iou"],
        "pixel_accuracy": scores["pixel_accuracy"],
        "mean_accuracy": scores["mean_accuracy"],
        "per_class_iou": per_class,
        "confusion_matrix": np.asarray(scores["confusion"]).astype(np.int64).tolist(),
    }
    json_path = os.path.join(out_dir, "metrics.json")
    with open(json_path, "w") as f:
        json.dump(report, f, indent=2)
    lines = [
        f"# {title}",
        "",
        f"mIoU **{100 * scores['mean_iou']:.2f}%**, pixel accuracy {100 * scores['pixel_accuracy']:.2f}%, "
        f"mean accuracy {100 * scores['mean_accuracy']:.2f}%",
        "",
        "| class | IoU (%) |",
        "|---|---|",
    ]
    lines += [f"| {name} | {'-' if iou is None else f'{100 * iou:.2f}'} |" for name, iou in per_class.items()]
    md_path = os.path.join(out_dir, "metrics.md")
    with open(md_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return json_path, md_path
