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


def predict(model, images, scales=(1.0,), flip=False, fusion="mean", sliding_window=None, stride=None, crf=None):
    """Scores (B, H, W, C) for a batch: plain, multi-scale/flip, sliding-window, then optional CRF."""
    import tensorflow as tf

    from kseg import inference

    if sliding_window:
        stride = stride or max(1, (2 * sliding_window) // 3)

        def base(x, training=False):
            return inference.predict_sliding_window(model, x, sliding_window, stride)

    else:
        base = model
    if tuple(scales) != (1.0,) or flip:
        scores = inference.predict_multi_scale(base, images, scales, flip, fusion)
        logits = tf.math.log(scores + 1e-8) if fusion == "mean" else scores
    else:
        logits = base(images, training=False)
    if crf:
        return inference.refine(logits, images, crf=crf)
    return logits


def evaluate_split(model_path, config, out_dir, save_predictions=8, **predict_options):
    """Evaluate a saved model on the configured validation split; write the report,
    a confusion-matrix picture and colourised predictions. Returns a summary dict."""
    import keras
    from PIL import Image

    from kseg import data as kdata
    from kseg import visualize
    from kseg.training.runner import data_sources

    model = keras.saving.load_model(model_path)
    _, val_pairs, class_names, label_table = data_sources(config)
    num_classes = config["data"]["num_classes"]
    dataset = kdata.segmentation_dataset(
        val_pairs, num_classes, training=False, label_table=label_table,
        skip_bad_examples=config["data"]["skip_bad_examples"],
    )
    palette = visualize.cityscapes_palette() if config["data"]["format"] == "cityscapes" else visualize.voc_palette()
    metric = ConfusionMatrixMetric(num_classes)
    pictures = os.path.join(out_dir, "predictions")
    os.makedirs(pictures, exist_ok=True)
    for index, (images, masks) in enumerate(dataset):
        scores = predict(model, images, **predict_options)
        metric.update_state(masks, scores)
        if index < save_predictions:
            labels = np.asarray(scores).argmax(-1)[0].astype(np.uint8)
            image = images.numpy()[0].astype(np.uint8)
            Image.fromarray(visualize.colorize(labels, palette)).save(os.path.join(pictures, f"{index:04d}_pred.png"))
            Image.fromarray(visualize.overlay(image, labels, palette=palette)).save(
                os.path.join(pictures, f"{index:04d}_overlay.png")
            )
    scores = metric.scores()
    json_path, md_path = write_report(scores, class_names, out_dir, title=config["name"])
    confusion_png = os.path.join(out_dir, "confusion_matrix.png")
    Image.fromarray(visualize.confusion_matrix_image(scores["confusion"])).save(confusion_png)
    return {
        "mean_iou": scores["mean_iou"],
        "pixel_accuracy": scores["pixel_accuracy"],
        "mean_accuracy": scores["mean_accuracy"],
        "json": json_path,
        "markdown": md_path,
        "confusion_matrix": confusion_png,
        "predictions": pictures,
        "images": len(val_pairs),
    }
