"""Scoring a model over a whole split and writing the report."""

import json
import os

import numpy as np

from kseg.metrics import ConfusionMatrixMetric


def evaluate_dataset(model, dataset, num_classes, ignore_label=255):
    """Stream `dataset` ((images, masks) batches) through `model`; returns `ConfusionMatrixMetric.scores()`."""
    import tensorflow as tf

    metric = ConfusionMatrixMetric(num_classes, ignore_label=ignore_label)
    # One graph for all batches (relaxed to dynamic sizes if the image sizes vary).
    forward = tf.function(lambda images: model(images, training=False), reduce_retracing=True)
    for images, masks in dataset:
        metric.update_state(masks, forward(images))
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


class EvaluationOptionError(ValueError):
    """A test-time option the model cannot be evaluated with."""


def shifted_base(model, steps):
    """`model` evaluated with RelationNet's shifted multi-step testing (§II-C): a callable
    images -> logits at the input size, interleaving `steps`^2 shifted runs of the model's
    low-resolution scores."""
    from kseg import inference

    try:
        scores = inference.stride_logits_model(model)
    except ValueError as error:
        raise EvaluationOptionError(f"--shifted-steps: {error}") from error
    output_stride = inference.logits_stride(scores)
    if output_stride % steps:
        raise EvaluationOptionError(f"--shifted-steps {steps} must divide the model's output stride {output_stride}")

    def base(images, training=False):
        return inference.shifted_predict(scores, images, steps=steps, output_stride=output_stride)

    return base


def predict(
    model, images, scales=(1.0,), flip=False, fusion="mean", sliding_window=None, stride=None, crf=None,
    shifted_steps=None,
):
    """Scores (B, H, W, C) for a batch: plain, shifted multi-step (`shifted_steps`, a callable
    from `shifted_base` or an int) or sliding-window, then multi-scale/flip, then optional CRF."""
    import tensorflow as tf

    from kseg import inference

    if shifted_steps and sliding_window:
        raise ValueError("shifted testing and a sliding window cannot be combined")
    if shifted_steps:
        base = shifted_steps if callable(shifted_steps) else shifted_base(model, int(shifted_steps))
    elif sliding_window:
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


def evaluate_split(model_path, config, out_dir, save_predictions=8, images=None, **predict_options):
    """Evaluate a saved model on the configured validation split (its first `images`
    images if given); write the report, a confusion-matrix picture and colourised
    predictions. Returns a summary dict."""
    from PIL import Image

    from kseg import data as kdata
    from kseg import visualize
    from kseg.serving.source import load_model
    from kseg.training.runner import data_sources

    model = load_model(model_path)
    _, val_pairs, class_names, label_table = data_sources(config)
    val_pairs = val_pairs[:images] if images else val_pairs
    num_classes = config["data"]["num_classes"]
    skip = config["data"]["skip_bad_examples"]
    dataset = kdata.segmentation_dataset(
        val_pairs, num_classes, training=False, label_table=label_table,
        skip_bad_examples=kdata.BadExamples(len(val_pairs), config["data"]["val_split"], config["data"]["max_bad_fraction"])
        if skip else False,
    )
    palette = visualize.cityscapes_palette() if config["data"]["format"] == "cityscapes" else visualize.voc_palette()
    metric = ConfusionMatrixMetric(num_classes)
    pictures = os.path.join(out_dir, "predictions")
    os.makedirs(pictures, exist_ok=True)
    if predict_options.get("shifted_steps"):  # build the score model and its stride once
        predict_options["shifted_steps"] = shifted_base(model, int(predict_options["shifted_steps"]))

    def forward(images):
        return predict(model, images, **predict_options)

    if not predict_options.get("sliding_window"):  # the sliding window assembles its tiles in NumPy
        import tensorflow as tf

        forward = tf.function(forward, reduce_retracing=True)
    with kdata.named_data_errors():
        for index, (images, masks) in enumerate(dataset):
            scores = forward(images)
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
