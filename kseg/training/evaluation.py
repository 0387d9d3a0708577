"""Scoring a model over a whole split and writing the report."""

import contextlib
import os

import numpy as np

from kseg.atomic import atomic_path, write_json, write_text
from kseg.constants import IGNORE_LABEL
from kseg.metrics import ConfusionMatrixMetric
from kseg.training.config import dataset_spec


def evaluate_dataset(model, dataset, num_classes, ignore_label=IGNORE_LABEL, forward=None, on_batch=None):
    """Stream `dataset` ((images, masks) batches) through `model` (or `forward(images)` ->
    scores), calling `on_batch(images, masks, scores)` after each batch if given; returns
    `ConfusionMatrixMetric.scores()`."""
    import tensorflow as tf

    metric = ConfusionMatrixMetric(num_classes, ignore_label=ignore_label)
    if forward is None:  # one graph for all batches (relaxed to dynamic sizes if the image sizes vary)
        forward = tf.function(lambda images: model(images, training=False), reduce_retracing=True)
    for images, masks in dataset:
        scores = forward(images)
        metric.update_state(masks, scores)
        if on_batch is not None:
            on_batch(images, masks, scores)
    return metric.scores()


def write_report(scores, class_names, out_dir, title="Evaluation", details=None, compute_dtype="float32"):
    """Write `metrics.json` (the means, per-class IoU, Dice and accuracy, the confusion matrix,
    the dtype the model computed in, and `details`, e.g. the CRF parameters used, when given)
    and `metrics.md` (the means and a table of the per-class scores) into `out_dir` (each
    atomically); returns their paths. (A run's own evaluation computes in its training
    precision, bfloat16 under `train.precision: auto` on CPUs with bf16 units; `training.evaluate`
    and the exports in float32 unless told otherwise: the scores differ in the last digits.)"""
    os.makedirs(out_dir, exist_ok=True)

    def by_class(values):
        return {name: (None if np.isnan(value) else float(value)) for name, value in zip(class_names, values)}

    per_class = {key: by_class(scores[key]) for key in ("per_class_iou", "per_class_dice", "per_class_accuracy")}
    report = {
        "mean_iou": scores["mean_iou"],
        "mean_dice": scores["mean_dice"],
        "pixel_accuracy": scores["pixel_accuracy"],
        "mean_accuracy": scores["mean_accuracy"],
        **per_class,
        "confusion_matrix": np.asarray(scores["confusion"]).astype(np.int64).tolist(),
        "compute_dtype": compute_dtype,
        **(details or {}),
    }
    json_path = write_json(os.path.join(out_dir, "metrics.json"), report)
    lines = [
        f"# {title}",
        "",
        f"mIoU **{100 * scores['mean_iou']:.2f}%**, mean Dice {100 * scores['mean_dice']:.2f}%, "
        f"pixel accuracy {100 * scores['pixel_accuracy']:.2f}%, mean accuracy {100 * scores['mean_accuracy']:.2f}% "
        f"(computed in {compute_dtype})",
        "",
        "| class | IoU (%) | Dice (%) | accuracy (%) |",
        "|---|---|---|---|",
    ]

    def percent(value):
        return "-" if value is None else f"{100 * value:.2f}"

    lines += [f"| {name} | " + " | ".join(percent(per_class[key][name]) for key in per_class) + " |" for name in class_names]
    md_path = write_text(os.path.join(out_dir, "metrics.md"), "\n".join(lines) + "\n")
    return json_path, md_path


class PredictionPictures:
    """For the first `count` batches' first image: the colourised prediction, an overlay and
    a panel (image | ground truth | prediction | errors, with a legend of `class_names`)."""

    def __init__(self, folder, count, palette, class_names):
        self.folder, self.count, self.palette, self.class_names, self.index = folder, count, palette, class_names, 0
        os.makedirs(folder, exist_ok=True)

    def add(self, images, masks, scores):
        from kseg import visualize
        from kseg.inference.images import write_png
        from kseg.report_pictures import prediction_panel

        if self.index < self.count:
            labels = np.asarray(scores).argmax(-1)[0].astype(np.uint8)
            image = np.asarray(images)[0].astype(np.uint8)
            stem = os.path.join(self.folder, f"{self.index:04d}")
            write_png(f"{stem}_pred.png", visualize.colorize(labels, self.palette))
            write_png(f"{stem}_overlay.png", visualize.overlay(image, labels, palette=self.palette))
            write_png(f"{stem}_panel.png", prediction_panel(image, np.asarray(masks)[0], labels, self.class_names, self.palette))
        self.index += 1


@contextlib.contextmanager
def prediction_pictures(out_dir, count, palette, class_names):
    """`PredictionPictures` writing into a staging folder that replaces `<out_dir>/predictions`
    whole when the block ends without an error (no pictures of an earlier evaluation left
    among the new ones; a failed evaluation leaves the earlier ones as they were)."""
    with atomic_path(os.path.join(out_dir, "predictions")) as staging:
        yield PredictionPictures(staging, count, palette, class_names)


def config_palette(config):
    """The label colours (256, 3) of a loaded config's dataset (`data.palette`, else its format's)."""
    from kseg.data.palettes import dataset_palette

    return dataset_palette(dataset_spec(config))


def write_confusion_figure(scores, class_names, out_dir, title):
    """`<out_dir>/confusion_matrix.png`: the labelled confusion matrix, `title` and the mIoU above."""
    from kseg.inference.images import write_png
    from kseg.report_pictures import confusion_figure

    heading = f"{title}: mIoU {100 * scores['mean_iou']:.2f}%"
    return write_png(os.path.join(out_dir, "confusion_matrix.png"), confusion_figure(scores["confusion"], class_names, title=heading))


def split_dataset(config, images=None):
    """(dataset, `DatasetSplits`, image count): a loaded config's validation split
    (`data.val_split`), its first `images` images if given, in batches of one ((1, H, W, 3)
    images, (1, H, W) masks), leaving out bad examples as `data.skip_bad_examples` says.
    Iterate it inside `kseg.data.named_data_errors()`. Raises `DataError` for a split without
    images."""
    from kseg import data as kdata

    data = config.data
    splits = kdata.dataset_splits(dataset_spec(config), training=False)
    val_pairs = splits.val_pairs[:images] if images else splits.val_pairs
    if not len(val_pairs):
        raise kdata.DataError(f"data.val_split {data.val_split!r} of {data.root} has no images")
    bad = kdata.BadExamples(len(val_pairs), data.val_split, data.max_bad_fraction) if data.skip_bad_examples else False
    dataset = kdata.segmentation_dataset(
        val_pairs, data.num_classes, training=False, label_table=splits.label_table, skip_bad_examples=bad
    )
    return dataset, splits, len(val_pairs)


@contextlib.contextmanager
def _scoring_callback(pictures, count, progress):
    """`on_batch` for `evaluate_dataset`: `pictures.add`, then a `CountProgress` line when
    `progress` is set."""
    if not progress:
        yield pictures.add
        return
    from kseg.training.progress import CountProgress

    with CountProgress(count, "images scored") as bar:
        def on_batch(images, masks, scores):
            pictures.add(images, masks, scores)
            bar.update(pictures.index)

        yield on_batch


def evaluate_split(
    model_path, config, out_dir, save_predictions=8, images=None, precision="float32", details=None, progress=False,
    **predict_options
):
    """Evaluate a saved model on the configured validation split (its first `images`
    images if given), computing in `precision` ("float32" or "bfloat16"), with the
    test-time options of `kseg.inference.predict`; write the
    report, a confusion-matrix picture and colourised predictions; with `progress`, print
    how far it is (`kseg.training.progress.CountProgress`). Returns a summary dict."""
    from kseg import data as kdata
    from kseg.inference import predictor
    from kseg.models.loading import load_inference_model

    data = config.data
    model = load_inference_model(model_path, precision)
    dataset, splits, count = split_dataset(config, images)
    forward = predictor(model, **predict_options)
    palette = config_palette(config)
    with (
        prediction_pictures(out_dir, save_predictions, palette, splits.class_names) as pictures,
        kdata.named_data_errors(),
        _scoring_callback(pictures, count, progress) as on_batch,
    ):
        scores = evaluate_dataset(model, dataset, data.num_classes, forward=forward, on_batch=on_batch)
    json_path, md_path = write_report(
        scores, splits.class_names, out_dir, title=config.name, details=details, compute_dtype=precision,
    )
    confusion_png = write_confusion_figure(scores, splits.class_names, out_dir, config.name)
    return {
        "mean_iou": scores["mean_iou"],
        "mean_dice": scores["mean_dice"],
        "pixel_accuracy": scores["pixel_accuracy"],
        "mean_accuracy": scores["mean_accuracy"],
        "json": json_path,
        "markdown": md_path,
        "confusion_matrix": confusion_png,
        "predictions": os.path.join(out_dir, "predictions"),
        "images": count,
    }
