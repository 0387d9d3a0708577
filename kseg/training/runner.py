"""The training job behind `python -m training.fit`: prepare, fit, finalize (as TF Model
Garden's train.py reads), for any architecture through its task; `run` adds multi-stage
recipes and `dry_run` checks a recipe without training."""

import json
import os
from dataclasses import dataclass

import keras
import tensorflow as tf

from kseg import data as kdata
from kseg.atomic import copy_file, write_json, write_text
from kseg.data.label_checks import refuse_foreground_ignored
from kseg.output_paths import url_scheme
from kseg.run_folder import RunFolder
from kseg.training.artefacts import export_onnx_of_run, export_saved_model_of_run, release_memory, save_model_atomically
from kseg.training.checkpoint import complete_checkpoint, restore_complete
from kseg.training.config import ConfigError, config_text, dataset_spec, expand_stages
from kseg.training.distribute import is_chief, make_strategy, worker_dir
from kseg.training.evaluation import (
    config_palette, prediction_pictures, write_confusion_figure, write_report,
)
from kseg.training.init_from import initialise_from, load_model_for
from kseg.training.init_weights import transfer_weights
from kseg.training.loop import fit
from kseg.training.optimization import training_steps
from kseg.training.run_dir import has_checkpoint, reconcile_with_run, remove_litter
from kseg.training.run_lock import run_lock
from kseg.training.run_mirror import remote_run_folder, working_copy
from kseg.training.tasks import get_task, parameter_count
from kseg.training.validation import BestModel, score_validation


@dataclass
class TrainingJob:
    """One stage being trained: its config and task, data, model, optimizers, checkpoints."""

    config: dict
    task: object
    out_dir: str
    strategy: object
    splits: kdata.DatasetSplits
    bad_train: object
    bad_val: object
    steps: int
    model: object = None
    optimizers: dict = None
    manager: object = None
    initialised_from: dict = None
    best: object = None  # a `BestModel` when the run validates during training (train.eval_every)
    mirror: object = None  # a `RunMirror` when the run folder is in a bucket: pushed after every checkpoint

    def skipped_examples(self):
        """{split: {path: reason}} of the skipped files; prints one line per split."""
        report = {}
        for bad in (self.bad_train, self.bad_val):
            if bad and bad.errors:
                print(f"Bad examples: {bad.summary()} (data.skip_bad_examples)", flush=True)
                report[bad.split] = dict(bad.errors)
        return report


def train(config, run_dir, verbose=1, strategy=None, mirror=None):
    """Train (or resume) the configured model in `run_dir`, evaluate it, save and export it.

    `config` is one stage (no `stages`; `run` handles those). With
    `train.strategy=multi_worker` every worker runs this with the same config and
    `TF_CONFIG` naming its task; `data.batch_size` is the global batch. The chief writes to
    `run_dir`; the other workers write their checkpoints and final model to
    `<run_dir>/worker-<i>` and skip evaluation and export. With `model.batch_norm: train`
    BatchNormalization computes its statistics per replica, so only models without BN
    (DeepLab-LargeFOV) train exactly like one process with the same global batch; `sync`
    normalises over all replicas. `strategy` reuses one made by the caller
    (a process can make a multi-worker strategy only once). `mirror` (a
    `kseg.training.run_mirror.RunMirror` whose working copy holds `run_dir`, given by `run` for
    a run folder in a bucket) is pushed after every checkpoint and validation and once the
    model is saved, and its URLs name the SavedModel's `base_path` in models.config.

    Guarantees: one process per run directory (`run.lock`); resuming restores every
    variable of the model and optimizers, the step counter and the data stream position,
    and refuses a changed model section; a run whose loss becomes NaN or infinite raises
    `TrainingDiverged` and leaves no model.keras, evaluation or export (its newest
    checkpoint is the last good one).

    Returns a dict of what was produced (paths, steps, mIoU).
    """
    if config.get("stages"):
        raise ConfigError("train() runs one stage; use run() for a config with stages")
    if url_scheme(run_dir):
        raise ValueError(f"train() writes a local run folder; run() takes a URL. Received: run_dir={run_dir!r}")
    task = get_task(config)
    task.check()
    if strategy is None:
        strategy = make_strategy(config.train.strategy)  # before any other TF op (multi-worker)
    out_dir = worker_dir(run_dir, strategy)
    with run_lock(out_dir):
        job = prepare(config, task, out_dir, strategy)
        job.mirror = mirror
        with kdata.named_data_errors():
            history = fit(job, verbose)
        result = finalize(job, history)
        if mirror is not None:  # the model in the bucket before the ONNX export
            mirror.push()
        if config.export.onnx and is_chief(strategy):
            del job, history
            release_memory()
            best = result.get("best", {}).get("model") if config.export.model == "best" else None
            result["exports"]["onnx"] = export_onnx_of_run(best or result["segmenter"], config, out_dir)
        write_json(RunFolder(out_dir).result, result)
    return result


def prepare(config, task, out_dir, strategy):
    """The run folder checked against a previous run, the data listed, the model and its
    optimizers built and compiled, and restored from the last checkpoint (or initialised
    from `train.init_weights`)."""
    keras.utils.set_random_seed(config.train.seed)  # same initial weights in every process and rerun
    config = _with_class_weights(config)
    task = type(task)(config)  # its losses take the computed weights
    remove_litter(out_dir)
    config = reconcile_with_run(config, out_dir)
    if not has_checkpoint(out_dir):  # a resumed run keeps its config until it finishes
        write_text(RunFolder(out_dir).config, config_text(config))
    keras.mixed_precision.set_dtype_policy(config.train.precision)
    data = config.data
    splits = kdata.dataset_splits(dataset_spec(config))
    if not isinstance(splits.train_pairs, kdata.RecordsSplit):  # records were checked when written
        refuse_foreground_ignored(splits.train_pairs, splits.label_table, "the training split")
    skip, fraction = data.skip_bad_examples, data.max_bad_fraction
    job = TrainingJob(
        config, task, out_dir, strategy, splits,
        bad_train=kdata.BadExamples(len(splits.train_pairs), "training split", fraction) if skip else False,
        bad_val=kdata.BadExamples(len(splits.val_pairs), f"split {data['val_split']!r}", fraction) if skip else False,
        steps=training_steps(config, len(splits.train_pairs)),
        best=BestModel(out_dir) if config.train.eval_every and is_chief(strategy) else None,
    )
    with strategy.scope():
        job.model = task.build_model()
        job.optimizers = task.build_optimizers(job.steps)
        task.compile(job.model, job.optimizers)
    checkpoint = complete_checkpoint(model=job.model, **job.optimizers)
    job.manager = tf.train.CheckpointManager(checkpoint, RunFolder(out_dir).checkpoints, max_to_keep=3)
    if job.manager.latest_checkpoint:
        restore_complete(checkpoint, job.manager.latest_checkpoint)
        step = int(job.optimizers["optimizer"].iterations.numpy())
        print(f"Resuming from {job.manager.latest_checkpoint} (step {step})", flush=True)
    elif config.train.init_weights:
        job.initialised_from = _initialise_from(job.model, config.train.init_weights)
    elif config.train.init_from:
        job.initialised_from = initialise_from(job.model, config.train.init_from, config.data.num_classes)
    return job


def _with_class_weights(config):
    """`config` with a named `train.class_weights` weighting replaced by the weights it gives
    on the training labels (so the task and the run's config.yaml have the numbers)."""
    method = config.train.class_weights
    if not isinstance(method, str):
        return config
    splits = kdata.dataset_splits(dataset_spec(config))
    weights = kdata.class_weights_from_labels(splits.train_pairs, config.data.num_classes, method, splits.label_table)
    print(f"train.class_weights: {method} over {len(splits.train_pairs)} training masks -> {weights}", flush=True)
    return config.replace({"train.class_weights": weights})


def finalize(job, history):
    """Save the trained model (and the task's parts), evaluate the task's inference model
    on the validation split and export it (chief only). Returns the result dict."""
    model, config, out_dir = job.model, job.config, job.out_dir
    folder = RunFolder(out_dir)
    step = int(model.optimizer.iterations.numpy())
    result = {
        "run_dir": out_dir,
        "config": folder.config,
        "model": save_model_atomically(model, folder.model),
        "checkpoints": folder.checkpoints,
        "tensorboard": folder.logs,
        "steps": step,
        "final_train_loss": None if history is None else float(history.history["loss"][-1]),
        "replicas": job.strategy.num_replicas_in_sync,
    }
    for key, (filename, part) in job.task.saved_parts(model).items():
        result[key] = save_model_atomically(part, folder.part(filename))
    result["segmenter"] = result[job.task.SEGMENTER_PART]
    segmenter = job.task.inference_model(model)
    if is_chief(job.strategy):
        eval_dir = folder.eval
        with prediction_pictures(eval_dir, 8, config_palette(config), job.splits.class_names) as pictures:
            scores = score_validation(job, segmenter, on_batch=pictures.add)
        exported = segmenter
        if job.best is not None:
            job.best.offer(segmenter, scores["mean_iou"], step)
            result["best"] = dict(job.best.result or {})
            if config.export.model == "best" and job.best.result is not None:
                exported = keras.saving.load_model(job.best.path, compile=False)
        json_path, md_path = write_report(
            scores, job.splits.class_names, eval_dir, title=config.name, compute_dtype=segmenter.dtype_policy.compute_dtype,
        )
        confusion_png = write_confusion_figure(scores, job.splits.class_names, eval_dir, config.name)
        result.update(
            metrics={"json": json_path, "markdown": md_path, "confusion_matrix": confusion_png, "predictions": os.path.join(eval_dir, "predictions")},
            exports=export_saved_model_of_run(exported, config, out_dir, step, job.mirror),
            val_mean_iou=scores["mean_iou"],
            val_pixel_accuracy=scores["pixel_accuracy"],
        )
    skipped = job.skipped_examples()
    if skipped:
        result["skipped_examples"] = skipped
    if job.initialised_from:
        result["initialised_from"] = job.initialised_from
    write_text(folder.config, config_text(config))
    return result


def _initialise_from(model, path):
    """Copy weights from the model saved at `path` into `model` (layers matched by name)."""
    if not url_scheme(path) and not os.path.isfile(path):  # a URL is looked for as it is fetched
        raise FileNotFoundError(f"train.init_weights: no such model: {path}")
    source = load_model_for("train.init_weights", path)
    report = transfer_weights(source, model)
    kept = f"; kept as initialised: {', '.join(report['kept'])}" if report["kept"] else ""
    print(f"Starting from {path}: copied {len(report['copied'])} layers{kept}", flush=True)
    return {"path": path, **report}


def dry_run(config):
    """Resolve and check `config`, build each stage's model (without pretrained weights) and
    describe it: [{"stage", "architecture", "model", "parameters"}]. Reads no data and
    writes nothing."""
    described = []
    for name, stage in expand_stages(config):
        stage = stage.replace({"model.backbone_weights": None})  # nothing is downloaded or read
        task = get_task(stage)
        task.check()
        keras.mixed_precision.set_dtype_policy(stage.train.precision)
        model = task.build_model()
        task.compile(model, task.build_optimizers(steps=1))  # checks lr_multipliers against the variables
        described.append(
            {"stage": name, "architecture": task.architecture, "model": model.name, "parameters": parameter_count(model)}
        )
        keras.backend.clear_session()
    return described


def run(config, run_dir, verbose=1):
    """Train `config` in `run_dir`: one `train` call, or, for a recipe with `stages`, one per
    stage in `<run_dir>/stage-<k>-<name>/`, each starting from the previous stage's
    `model.keras` (layers matched by name, see `transfer_weights`) with a fresh optimizer and
    schedule. Every stage is evaluated; only the last one is exported.

    `run_dir` may be a URL (`gs://bucket/runs/x`): the run trains in a local working copy
    kept in step with it (`kseg.training.run_mirror`).

    Running it again resumes: finished stages (their `result.json` written) are skipped and
    the interrupted one continues from its last checkpoint. The last stage's model is copied
    to `<run_dir>/model.keras` and `<run_dir>/result.json` lists every stage's result, so a
    staged run folder is used like any other (`training.evaluate --run`, `export`).
    """
    stages = expand_stages(config)
    for _, stage in stages:  # every stage's task checks its config before the first trains
        get_task(stage).check()
    strategies = {stage.train.strategy for _, stage in stages}
    if len(strategies) > 1:
        raise ConfigError(f"Every stage must use the same train.strategy. Received: {sorted(strategies)}")
    strategy = make_strategy(strategies.pop())
    if not url_scheme(run_dir):
        return _run_stages(config, stages, run_dir, verbose, strategy)
    with remote_run_folder(worker_dir(run_dir, strategy)) as mirror:
        result = _run_stages(config, stages, working_copy(run_dir), verbose, strategy, mirror)
        return mirror.finish(result)


def _run_stages(config, stages, run_dir, verbose, strategy, mirror=None):
    """`run` in the local folder `run_dir`."""
    if stages[0][0] is None:
        return train(stages[0][1], run_dir, verbose, strategy=strategy, mirror=mirror)
    out_dir = worker_dir(run_dir, strategy)
    folder = RunFolder(out_dir)
    with run_lock(out_dir):
        results, previous_model = [], None
        for index, (name, stage_config) in enumerate(stages, 1):
            result = _run_stage(index, len(stages), name, stage_config, run_dir, previous_model, verbose, strategy, mirror)
            results.append({"stage": name, **result})
            previous_model = _stage_folder(run_dir, index, name, strategy).model
        write_text(folder.config, config_text(config))
        final_model = copy_file(previous_model, folder.model)
        summary = {**results[-1], "run_dir": out_dir, "config": folder.config, "model": final_model}
        if results[-1].get("segmenter", results[-1]["model"]) == results[-1]["model"]:
            summary["segmenter"] = final_model
        summary["stages"] = results
        write_json(folder.result, summary)
    return summary


def _stage_folder(run_dir, index, name, strategy):
    """The folder this process writes for stage `index` of the run in `run_dir`."""
    return RunFolder(worker_dir(RunFolder(run_dir).stage(index, name).path, strategy))


def _run_stage(index, count, name, stage_config, run_dir, previous_model, verbose, strategy, mirror):
    """One stage of `run`: its result.json if it finished before, else train it from the
    previous stage's model (exports only for the last stage)."""
    folder = RunFolder(run_dir).stage(index, name).path
    done = _stage_folder(run_dir, index, name, strategy).result
    if os.path.isfile(done):
        print(f"Stage {index} ({name}) already finished: {done}", flush=True)
        with open(done) as f:
            return json.load(f)
    print(f"Stage {index}/{count} ({name}) in {folder}", flush=True)
    if previous_model is not None:
        stage_config = stage_config.replace({"train.init_weights": previous_model})
    if index < count:  # only the final model is deployed
        stage_config = stage_config.replace({"export.saved_model": False, "export.onnx": False})
    return train(stage_config, folder, verbose, strategy=strategy, mirror=mirror)
