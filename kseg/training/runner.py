"""The training job behind `python -m training.fit`: data, model, optimiser, checkpoints,
resume, evaluation, saving; `run` adds multi-stage recipes."""

import copy
import inspect
import json
import math
import os

import keras
import tensorflow as tf

import kseg
from kseg import data as kdata
from kseg.atomic import atomic_path, copy_file, write_json, write_text
from kseg.data import BadExamples, named_data_errors
from kseg.training.checkpoint import complete_checkpoint, restore_complete
from kseg.training.config import ConfigError, expand_stages
from kseg.training.distribute import is_chief, make_strategy, shard_by_data, worker_dir
from kseg.training.evaluation import evaluate_dataset, write_report
from kseg.training.guards import DivergenceGuard, GoodCheckpoints, all_finite, diverged_error
from kseg.training.run_dir import config_text, has_checkpoint, reconcile_with_run, remove_litter
from kseg.training.run_lock import run_lock
from kseg.training.init_weights import transfer_weights
from kseg.training.optimizers import CoupledWeightDecaySGD
from kseg.training.schedules import PolyDecay


def data_sources(config):
    """(train_pairs, val_pairs, class_names, label_table) for the configured dataset.
    `data.train_split` may list several splits: the training pairs are their union."""
    data = config["data"]
    fmt, root = data["format"], data["root"]
    splits = data["train_split"] if isinstance(data["train_split"], list) else [data["train_split"]]
    label_table = None
    if fmt == "builtin":
        root = kdata.builtin_root(root)
        names = kdata.BUILTIN_CLASSES
        read = lambda split, annotation: kdata.voc_pairs(root, split)  # noqa: E731
    elif fmt == "voc":
        names = kdata.VOC_CLASSES
        read = lambda split, annotation: kdata.voc_pairs(root, split)  # noqa: E731
    elif fmt == "cityscapes":
        names = kdata.CITYSCAPES_CLASSES
        label_table = kdata.cityscapes_train_id_table()
        read = lambda split, annotation: kdata.cityscapes_pairs(root, split, annotation)  # noqa: E731
    else:
        names = tuple(f"class_{i}" for i in range(data["num_classes"]))
        read = lambda split, annotation: kdata.folder_pairs(os.path.join(root, split))  # noqa: E731
    train = [pair for split in splits for pair in read(split, data["annotation"])]
    val = read(data["val_split"], "gtFine")  # Cityscapes is scored on its fine labels
    if len(names) != data["num_classes"]:
        raise ValueError(
            f"data.num_classes={data['num_classes']} but the {fmt} dataset has {len(names)} classes"
        )
    return train, val, names, label_table


def build_model(config):
    model_cfg, num_classes = config["model"], config["data"]["num_classes"]
    if model_cfg["architecture"] in ("seggan", "ssgan"):
        return _build_gan(config)
    if model_cfg["architecture"] == "relationnet":
        return kseg.models.RelationNet(
            num_classes,
            backbone_weights=model_cfg["backbone_weights"],
            training_heads=config["relation"]["scl_weight"] > 0,  # the similarity subnet is for SCL only
            **model_cfg["options"],
        )
    kwargs = dict(
        num_classes=num_classes,
        backbone=model_cfg["backbone"],
        output_stride=model_cfg["output_stride"],
        backbone_weights=model_cfg["backbone_weights"],
        **model_cfg["options"],
    )
    builder = _architectures()[model_cfg["architecture"]]
    return builder(**kwargs)


# The constructor behind each architecture, and the arguments build_model sets from other
# config keys (so model.options must not set them).
def _architectures():
    return {
        "pan": kseg.models.PAN,
        "deeplabv2": kseg.models.DeepLabV2,
        "seggan": kseg.models.SegGAN,
        "ssgan": kseg.models.SSGAN,
        "relationnet": kseg.models.RelationNet,
    }


_SET_BY_CONFIG = {
    "num_classes": "data.num_classes",
    "backbone": "model.backbone",
    "generator": "model.backbone",
    "output_stride": "model.output_stride",
    "backbone_weights": "model.backbone_weights",
    "training_heads": "relation.scl_weight",
    "lambda_adv": "adversarial.lambda_adv",
    "adversarial_loss": "adversarial.adversarial_loss",
    "d_loss": "adversarial.d_loss",
}


def check_model_options(config):
    """Every `model.options` key must be an argument of the architecture's constructor
    that no other config key sets; a `ConfigError` names the first that is not."""
    architecture = config["model"]["architecture"]
    cls = _architectures()[architecture]
    accepted = [
        name for name, p in inspect.signature(cls.__init__).parameters.items()
        if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and name not in _SET_BY_CONFIG
    ]
    for key in config["model"]["options"]:
        if key in _SET_BY_CONFIG:
            raise ConfigError(f"model.options.{key}: set {_SET_BY_CONFIG[key]} instead")
        if key not in accepted:
            raise ConfigError(
                f"model.options.{key} is not an argument of {cls.__name__} (model.architecture={architecture}); "
                f"it takes: {', '.join(accepted)}"
            )


def _build_gan(config):
    model_cfg, adv = config["model"], config["adversarial"]
    common = dict(
        num_classes=config["data"]["num_classes"],
        output_stride=model_cfg["output_stride"],
        backbone_weights=model_cfg["backbone_weights"],
        lambda_adv=adv["lambda_adv"],
        adversarial_loss=adv["adversarial_loss"],
        d_loss=adv["d_loss"],
        **model_cfg["options"],
    )
    if model_cfg["architecture"] == "seggan":
        return kseg.models.SegGAN(backbone=model_cfg["backbone"], **common)
    return kseg.models.SSGAN(generator=model_cfg["backbone"], **common)


def training_steps(config, num_train):
    """`train.steps`, or `train.epochs` passes over `num_train` examples in global batches."""
    train = config["train"]
    if train["steps"] is not None:
        return int(train["steps"])
    return max(1, math.ceil(train["epochs"] * num_train / config["data"]["batch_size"]))


def build_schedule(config, steps, initial_learning_rate=None):
    """The optimizer section's schedule over `steps`: `hold_fraction` of them at the initial
    rate, then poly decay (`power`; 1 = linear) to `end_learning_rate`."""
    opt = config["optimizer"]
    hold = int(round(float(opt["hold_fraction"]) * steps))
    return PolyDecay(
        opt["learning_rate"] if initial_learning_rate is None else initial_learning_rate,
        max(1, steps - hold),
        power=opt["power"],
        end_learning_rate=opt["end_learning_rate"],
        hold_steps=hold,
    )


def build_d_optimizer(config, steps):
    """Adam for a discriminator (Seg-GAN §4.2), with the segmentation network's schedule shape."""
    adv = config["adversarial"]
    schedule = build_schedule(config, steps, initial_learning_rate=adv["d_learning_rate"])
    return keras.optimizers.Adam(learning_rate=schedule, beta_1=adv["d_beta_1"], beta_2=adv["d_beta_2"])


def build_optimizer(config, steps):
    opt = config["optimizer"]
    return CoupledWeightDecaySGD(
        learning_rate=build_schedule(config, steps), momentum=opt["momentum"], nesterov=opt["nesterov"],
        l2=opt["weight_decay"],
    )


def build_loss(config):
    train = config["train"]
    if train["loss"] == "ohem":
        return kseg.losses.OHEMCrossEntropy(threshold=train["ohem_threshold"], min_kept=train["ohem_min_kept"])
    return kseg.losses.MaskedSparseCategoricalCrossentropy()


def has_similarity_head(model):
    return isinstance(model, kseg.models.RelationNet) and model.training_heads


def compile_for_training(model, optimizer, config, steps):
    """Compile `model` as the config says: a GAN with its two optimizers (its train_step has
    its own losses), RelationNet with training heads with {"logits": segmentation loss,
    "similarity": SCL weighted by relation.scl_weight} (eq. 2), anything else with the loss."""
    data, train_cfg = config["data"], config["train"]
    if isinstance(model, kseg.models.AdversarialSegmenter):
        model.compile(g_optimizer=optimizer, d_optimizer=build_d_optimizer(config, steps), jit_compile=train_cfg["jit_compile"])
        return
    metric = kseg.metrics.ConfusionMatrixMetric(data["num_classes"])
    if has_similarity_head(model):
        model.compile(
            optimizer=optimizer,
            loss={"logits": build_loss(config), "similarity": kseg.losses.SpatialCorrelationLoss()},
            loss_weights={"logits": 1.0, "similarity": float(config["relation"]["scl_weight"])},
            metrics={"logits": [metric]},
            jit_compile=train_cfg["jit_compile"],
        )
    else:
        model.compile(optimizer=optimizer, loss=build_loss(config), metrics=[metric], jit_compile=train_cfg["jit_compile"])
    optimizer.build(model.trainable_variables)


class _LearningRateLogger(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


def save_model_atomically(model, path):
    """Write `path` (.keras) under a staging name in the same folder, then rename."""
    with atomic_path(path) as tmp:
        model.save(tmp + ".keras")  # Keras insists on the extension
        os.replace(tmp + ".keras", tmp)
    return path


def export_saved_model_of_run(model, config, run_dir, step):
    """The SavedModel the config's `export` section asks for, at `<run>/serving/<name>/<step>/`
    (the step is the version, so re-running a finished job rewrites the same version)."""
    from kseg.serving import export_saved_model

    options = config["export"]
    if not options["saved_model"]:
        return {}
    name = options["name"] or config["name"]
    path = export_saved_model(
        model, os.path.join(run_dir, "serving"), name, version=max(step, 1), crf=options["crf"], overwrite=True,
        max_side=options["max_side"], max_pixels=options["max_pixels"],
    )
    return {"saved_model": path}


def export_onnx_of_run(model_path, config, run_dir):
    """`<run>/model.onnx` from the saved `model_path`, converted and checked in a child
    process (see `kseg.serving.onnx_cli.export_in_subprocess`). A failed export is reported
    in the result and does not discard the trained model."""
    from kseg.serving.onnx_cli import export_in_subprocess

    result = export_in_subprocess(model_path, os.path.join(run_dir, "model.onnx"), crf=config["export"]["crf"])
    if "error" in result:
        print(f"ONNX export failed: {result['error']}", flush=True)
    return result


def release_memory():
    """Hand the training state's memory back before a memory-hungry step (the ONNX export)."""
    import ctypes
    import gc

    keras.backend.clear_session()
    gc.collect()
    try:  # glibc keeps freed heap pages; give them back to the OS
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def train(config, run_dir, verbose=1, strategy=None):
    """Train (or resume) the configured model in `run_dir`, evaluate it, save and export it.

    `config` is one stage (no `stages`; `run` handles those). With
    `train.strategy=multi_worker` every worker runs this with the same config and
    `TF_CONFIG` naming its task; `data.batch_size` is the global batch. The chief writes to
    `run_dir`; the other workers write their checkpoints and final model to
    `<run_dir>/worker-<i>` and skip evaluation and export. BatchNormalization computes its
    statistics per replica, so only models without BN (DeepLab-LargeFOV) train exactly
    like one process with the same global batch. `strategy` reuses one made by the caller
    (a process can make a multi-worker strategy only once).

    Guarantees: one process per run directory (`run.lock`); resuming restores every
    variable of the model and optimizers, the step counter and the data stream position,
    and refuses a changed model section; a run whose loss becomes NaN or infinite raises
    `TrainingDiverged` and leaves no model.keras, evaluation or export (its newest
    checkpoint is the last good one).

    Returns a dict of what was produced (paths, steps, mIoU).
    """
    if config.get("stages"):
        raise ConfigError("train() runs one stage; use run() for a config with stages")
    if strategy is None:
        strategy = make_strategy(config["train"]["strategy"])  # before any other TF op (multi-worker)
    out_dir = worker_dir(run_dir, strategy)
    with run_lock(out_dir):
        return _train_locked(config, out_dir, verbose, strategy)


def _train_locked(config, out_dir, verbose, strategy):
    check_model_options(config)
    keras.utils.set_random_seed(config["train"]["seed"])  # same initial weights in every process and rerun
    remove_litter(out_dir)
    config = reconcile_with_run(config, out_dir)
    config_path = os.path.join(out_dir, "config.yaml")
    if not has_checkpoint(out_dir):  # a resumed run keeps its config until it finishes
        write_text(config_path, config_text(config))
    keras.mixed_precision.set_dtype_policy(config["train"]["precision"])
    sources = DataSources(config)
    steps = training_steps(config, len(sources.train_pairs))
    with strategy.scope():
        model = build_model(config)
        optimizer = build_optimizer(config, steps)
        compile_for_training(model, optimizer, config, steps)
    objects = dict(model=model, optimizer=optimizer)
    if isinstance(model, kseg.models.AdversarialSegmenter):
        objects["d_optimizer"] = model.d_optimizer
    checkpoint = complete_checkpoint(**objects)
    manager = tf.train.CheckpointManager(checkpoint, os.path.join(out_dir, "checkpoints"), max_to_keep=3)
    initialised_from = _restore_or_initialise(checkpoint, manager, model, optimizer, config)
    with named_data_errors():
        history = _fit(model, config, sources, steps, manager, strategy, out_dir, verbose)
    result = _finalize(model, config, sources, out_dir, strategy, history)
    write_text(config_path, config_text(config))
    if initialised_from:
        result["initialised_from"] = initialised_from
    if config["export"]["onnx"] and is_chief(strategy):
        del model, optimizer, checkpoint, manager, objects, history
        release_memory()
        result["exports"]["onnx"] = export_onnx_of_run(result.get("generator", result["model"]), config, out_dir)
    write_json(os.path.join(out_dir, "result.json"), result)
    return result


def _restore_or_initialise(checkpoint, manager, model, optimizer, config):
    if manager.latest_checkpoint:
        restore_complete(checkpoint, manager.latest_checkpoint)
        print(f"Resuming from {manager.latest_checkpoint} (step {int(optimizer.iterations.numpy())})", flush=True)
        return None
    if config["train"]["init_weights"]:
        return _initialise_from(model, config["train"]["init_weights"])
    return None


class DataSources:
    """The configured splits: pairs, class names, label table, and what was skipped."""

    def __init__(self, config):
        data = config["data"]
        self.train_pairs, self.val_pairs, self.class_names, self.label_table = data_sources(config)
        skip = data["skip_bad_examples"]
        fraction = data["max_bad_fraction"]
        self.bad_train = BadExamples(len(self.train_pairs), "training split", fraction) if skip else False
        self.bad_val = BadExamples(len(self.val_pairs), f"split {data['val_split']!r}", fraction) if skip else False

    def skipped(self):
        """{split: {path: reason}} of the skipped files; prints one line per split."""
        report = {}
        for bad in (self.bad_train, self.bad_val):
            if bad and bad.errors:
                print(f"Bad examples: {bad.summary()} (data.skip_bad_examples)", flush=True)
                report[bad.split] = dict(bad.errors)
        return report


def _train_stream(model, config, sources, strategy, start_batch):
    data = config["data"]
    ds = kdata.segmentation_dataset(
        sources.train_pairs,
        num_classes=data["num_classes"],
        training=True,
        batch_size=data["batch_size"],
        crop_size=tuple(data["crop"]),
        scale_range=tuple(data["scale"]) if data["scale"] else None,
        flip=data["flip"],
        seed=data["seed"],
        label_table=sources.label_table,
        skip_bad_examples=sources.bad_train,
        repeat=True,
        start_batch=start_batch,  # a resumed run continues the stream where it stopped
    )
    if has_similarity_head(model):  # both outputs are supervised by the same label map
        ds = ds.map(lambda images, masks: (images, {"logits": masks, "similarity": masks}))
    return shard_by_data(ds) if strategy.num_replicas_in_sync > 1 else ds


def chunk_plan(done, steps, every):
    """The `model.fit` calls that take a run from step `done` to `steps` in Keras "epochs"
    ending at multiples of `every` (each ends in a checkpoint) or at `steps`:
    [(initial_epoch, epochs, steps_per_epoch)]. A run resumed after `every` changed first
    trains up to the next multiple, so no step is trained twice or skipped."""
    plan = []
    while done < steps:
        epoch = done // every
        if done % every:  # a partial chunk up to the next boundary
            length = min(every - done % every, steps - done)
            plan.append((epoch, epoch + 1, length))
        elif steps - done >= every:
            full = (steps - done) // every
            plan.append((epoch, epoch + full, every))
            length = full * every
        else:  # a shorter last chunk ends the run exactly at `steps`
            length = steps - done
            plan.append((epoch, epoch + 1, length))
        done += length
    return plan


def _fit(model, config, sources, steps, manager, strategy, out_dir, verbose):
    """Train from the optimizer's step to `steps` along `chunk_plan`, a checkpoint at the
    end of every chunk. Returns the last History (None when nothing was left to train)."""
    every = config["train"]["checkpoint_every"]
    guard = DivergenceGuard()
    callbacks = [
        guard,
        _LearningRateLogger(),
        GoodCheckpoints(manager, guard, model.variables),
        keras.callbacks.TensorBoard(os.path.join(out_dir, "logs"), update_freq="epoch"),
    ]
    optimizer = model.optimizer
    history = None
    for initial_epoch, epochs, steps_per_epoch in chunk_plan(int(optimizer.iterations.numpy()), steps, every):
        if guard.step is not None:
            break
        history = model.fit(
            _train_stream(model, config, sources, strategy, int(optimizer.iterations.numpy())),
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            shuffle=False,  # the tf.data pipeline shuffles
            callbacks=callbacks,
            verbose=verbose if is_chief(strategy) else 0,
        )
        if kdata.pending_data_error() is not None:  # a bad-examples limit ended the stream
            break
    if guard.step is None and not all_finite(model.variables):
        guard.step = int(optimizer.iterations.numpy())
    if guard.step is not None:
        raise diverged_error(guard, manager)
    return history


def _finalize(model, config, sources, out_dir, strategy, history):
    """Save the trained model, evaluate its segmentation network on the validation split
    and export it (chief only). Returns the result dict."""
    step = int(model.optimizer.iterations.numpy())
    model_path = save_model_atomically(model, os.path.join(out_dir, "model.keras"))
    # What is evaluated and deployed: a GAN's segmentation network alone, RelationNet
    # without its similarity subnet.
    segmenter = kseg.models.segmentation_network(model)
    result = {
        "run_dir": out_dir,
        "config": os.path.join(out_dir, "config.yaml"),
        "model": model_path,
        "checkpoints": os.path.join(out_dir, "checkpoints"),
        "tensorboard": os.path.join(out_dir, "logs"),
        "steps": step,
        "final_train_loss": None if history is None else float(history.history["loss"][-1]),
        "replicas": strategy.num_replicas_in_sync,
    }
    if isinstance(model, kseg.models.AdversarialSegmenter):
        result["generator"] = save_model_atomically(segmenter, os.path.join(out_dir, "generator.keras"))
    if is_chief(strategy):
        data = config["data"]
        val_ds = kdata.segmentation_dataset(
            sources.val_pairs, data["num_classes"], training=False, label_table=sources.label_table,
            skip_bad_examples=sources.bad_val,
        )
        with named_data_errors():
            scores = evaluate_dataset(segmenter, val_ds, data["num_classes"])
        json_path, md_path = write_report(scores, sources.class_names, os.path.join(out_dir, "eval"), title=config["name"])
        result.update(
            metrics={"json": json_path, "markdown": md_path},
            exports=export_saved_model_of_run(segmenter, config, out_dir, step),
            val_mean_iou=scores["mean_iou"],
            val_pixel_accuracy=scores["pixel_accuracy"],
        )
    skipped = sources.skipped()
    if skipped:
        result["skipped_examples"] = skipped
    return result


def _initialise_from(model, path):
    """Copy weights from the model saved at `path` into `model` (layers matched by name)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"train.init_weights: no such model: {path}")
    source = keras.saving.load_model(path, compile=False)
    report = transfer_weights(source, model)
    kept = f"; kept as initialised: {', '.join(report['kept'])}" if report["kept"] else ""
    print(f"Starting from {path}: copied {len(report['copied'])} layers{kept}", flush=True)
    return {"path": path, **report}


def stage_dir(run_dir, index, name):
    return os.path.join(run_dir, f"stage-{index}-{name}")


def run(config, run_dir, verbose=1):
    """Train `config` in `run_dir`: one `train` call, or, for a recipe with `stages`, one per
    stage in `<run_dir>/stage-<k>-<name>/`, each starting from the previous stage's
    `model.keras` (layers matched by name, see `transfer_weights`) with a fresh optimizer and
    schedule. Every stage is evaluated; only the last one is exported.

    Running it again resumes: finished stages (their `result.json` written) are skipped and
    the interrupted one continues from its last checkpoint. The last stage's model is copied
    to `<run_dir>/model.keras` and `<run_dir>/result.json` lists every stage's result, so a
    staged run folder is used like any other (`training.evaluate --run`, `export`).
    """
    stages = expand_stages(config)
    if stages[0][0] is None:
        return train(stages[0][1], run_dir, verbose)
    strategies = {stage["train"]["strategy"] for _, stage in stages}
    if len(strategies) > 1:
        raise ConfigError(f"Every stage must use the same train.strategy. Received: {sorted(strategies)}")
    strategy = make_strategy(strategies.pop())
    out_dir = worker_dir(run_dir, strategy)
    with run_lock(out_dir):
        results, previous_model = [], None
        for index, (name, stage_config) in enumerate(stages, 1):
            result = _run_stage(index, len(stages), name, stage_config, run_dir, previous_model, verbose, strategy)
            results.append({"stage": name, **result})
            previous_model = os.path.join(worker_dir(stage_dir(run_dir, index, name), strategy), "model.keras")
        write_text(os.path.join(out_dir, "config.yaml"), config_text(config))
        final_model = copy_file(previous_model, os.path.join(out_dir, "model.keras"))
        summary = {**results[-1], "run_dir": out_dir, "config": os.path.join(out_dir, "config.yaml"), "model": final_model}
        summary["stages"] = results
        write_json(os.path.join(out_dir, "result.json"), summary)
    return summary


def _run_stage(index, count, name, stage_config, run_dir, previous_model, verbose, strategy):
    """One stage of `run`: its result.json if it finished before, else train it from the
    previous stage's model (exports only for the last stage)."""
    folder = stage_dir(run_dir, index, name)
    done = os.path.join(worker_dir(folder, strategy), "result.json")
    if os.path.isfile(done):
        print(f"Stage {index} ({name}) already finished: {done}", flush=True)
        with open(done) as f:
            return json.load(f)
    print(f"Stage {index}/{count} ({name}) in {folder}", flush=True)
    stage_config = copy.deepcopy(stage_config)
    if previous_model is not None:
        stage_config["train"]["init_weights"] = previous_model
    if index < count:  # only the final model is deployed
        stage_config["export"].update(saved_model=False, onnx=False)
    return train(stage_config, folder, verbose, strategy=strategy)
