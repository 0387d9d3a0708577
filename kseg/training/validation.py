"""Validation during training (`train.eval_every`): the validation split (or its first
`data.val_limit` images) scored every N steps with the same streaming metric and test-time
procedure as the run's final evaluation; one line, TensorBoard scalars and prediction panels,
and the best model by val mIoU kept as `<run>/best/model.keras`."""

import json
import os

import keras
import numpy as np

from kseg import data as kdata
from kseg.atomic import write_json
from kseg.training.artefacts import save_model_atomically
from kseg.training.evaluation import config_palette, evaluate_dataset
from kseg.run_folder import RunFolder

PANELS = 3  # validation prediction panels written to TensorBoard at each validation


def score_validation(job, segmenter, on_batch=None):
    """Scores of `segmenter` on the validation split with the task's test-time procedure;
    `on_batch(images, masks, scores)` sees each batch."""
    from kseg.inference import predictor

    data = job.config.data
    val_ds = kdata.segmentation_dataset(
        job.splits.val_pairs, data.num_classes, training=False, label_table=job.splits.label_table,
        skip_bad_examples=job.bad_val,
    )
    options = job.task.test_time_options()
    forward = predictor(segmenter, **options) if options else None
    with kdata.named_data_errors():
        return evaluate_dataset(segmenter, val_ds, data.num_classes, forward=forward, on_batch=on_batch)


class BestModel:
    """The best validation mIoU of a run so far and its model, `<out_dir>/best/model.keras`
    (written atomically; `best/result.json`, written after it, is what a resumed run reads)."""

    def __init__(self, out_dir):
        run = RunFolder(out_dir)
        self.folder, self.path, self.record = run.best, run.best_model, run.best_result
        self.result = None
        if os.path.exists(self.record) and os.path.exists(self.path):
            with open(self.record) as f:
                self.result = json.load(f)

    @property
    def mean_iou(self):
        return -1.0 if self.result is None else self.result["val_mean_iou"]

    def offer(self, model, mean_iou, step):
        """Keep `model` when `mean_iou` beats the best so far; returns whether it did."""
        if not np.isfinite(mean_iou) or mean_iou <= self.mean_iou:
            return False
        os.makedirs(self.folder, exist_ok=True)
        save_model_atomically(model, self.path)
        self.result = {"step": int(step), "val_mean_iou": float(mean_iou), "model": self.path}
        write_json(self.record, self.result)
        return True


class _Panels:
    """The first `PANELS` images' panels (image | truth | prediction | errors), as arrays."""

    def __init__(self, palette, class_names):
        self.palette, self.class_names, self.panels = palette, class_names, []

    def add(self, images, masks, scores):
        from kseg.report_pictures import prediction_panel

        if len(self.panels) < PANELS:
            labels = np.asarray(scores).argmax(-1)[0].astype(np.uint8)
            image = np.asarray(images)[0].astype(np.uint8)
            self.panels.append(prediction_panel(image, np.asarray(masks)[0], labels, self.class_names, self.palette))


class PeriodicValidation(keras.callbacks.Callback):
    """At every step that is a multiple of `every` (a Keras epoch of `kseg.training.loop.fit`
    ends there) before the last (which `kseg.training.runner.finalize` scores): score the validation split, print `step N: val mIoU x% (best y% at step M)`,
    write `val_mean_iou`, `val_iou/<class>` and `val_predictions/<i>` to `<run>/logs/validation`,
    and offer the inference model to `best`."""

    def __init__(self, job, every, best):
        super().__init__()
        self.job, self.every, self.best = job, int(every), best

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.job.model.optimizer.iterations.numpy())
        if step % self.every == 0 and step < self.job.steps:  # the last step's is the run's final evaluation
            validate(self.job, step, self.best)


def validate(job, step, best):
    """Score `job`'s model at `step`, report it and offer it to `best` (a `BestModel`)."""
    import tensorflow as tf

    segmenter = job.task.inference_model(job.model)
    panels = _Panels(config_palette(job.config), job.splits.class_names)
    scores = score_validation(job, segmenter, on_batch=panels.add)
    improved = best.offer(segmenter, scores["mean_iou"], step)
    so_far = "no best yet" if best.result is None else f"best {100 * best.mean_iou:.2f}% at step {best.result['step']}"
    print(f"step {step}: val mIoU {100 * scores['mean_iou']:.2f}% ({so_far}{', this one' if improved else ''})", flush=True)
    with tf.summary.create_file_writer(RunFolder(job.out_dir).validation_logs).as_default(step=step):
        tf.summary.scalar("val_mean_iou", scores["mean_iou"])
        for name, iou in zip(job.splits.class_names, scores["per_class_iou"]):
            if np.isfinite(iou):
                tf.summary.scalar(f"val_iou/{name}", iou)
        for index, panel in enumerate(panels.panels):
            tf.summary.image(f"val_predictions/{index}", panel[None], step=step)
    return scores
