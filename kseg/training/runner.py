"""The training job behind `python -m training.fit`: data, model, optimiser, checkpoints,
resume, evaluation, saving; `run` adds multi-stage recipes."""

import copy
import json
import math
import os
import shutil
import tempfile

import keras
import tensorflow as tf

import kseg
from kseg import data as kdata
from kseg.training.config import ConfigError, dump_config, expand_stages
from kseg.training.distribute import is_chief, make_strategy, shard_by_data, worker_dir
from kseg.training.evaluation import evaluate_dataset, write_report
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
        root = kdata.ensure_builtin_dataset(root)
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
    builder = {"pan": kseg.models.PAN, "deeplabv2": kseg.models.DeepLabV2}[model_cfg["architecture"]]
    return builder(**kwargs)


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


class _Checkpointer(keras.callbacks.Callback):
    """Saves model + optimizer (step counter, momenta) every "epoch" of `checkpoint_every`
    steps, unless the loss went NaN (the last good checkpoint is kept)."""

    def __init__(self, manager):
        super().__init__()
        self.manager = manager

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            return
        self.manager.save(checkpoint_number=int(self.model.optimizer.iterations.numpy()))


class _LearningRateLogger(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


def save_model_atomically(model, path):
    """Write `path` (.keras) via a temporary file in the same folder and a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix=".keras", dir=folder)
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
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
        model, os.path.join(run_dir, "serving"), name, version=max(step, 1), crf=options["crf"], overwrite=True
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
    statistics per replica (as DeepLab's and PAN's multi-GPU training did), so only models
    without BN (DeepLab-LargeFOV) train exactly like one process with the same global batch.
    `strategy` reuses one made by the caller (a process can make a multi-worker strategy
    only once).

    Returns a dict of what was produced (paths, steps, mIoU).
    """
    if config.get("stages"):
        raise ConfigError("train() runs one stage; use run() for a config with stages")
    data, train_cfg = config["data"], config["train"]
    if strategy is None:
        strategy = make_strategy(train_cfg["strategy"])  # before any other TF op (multi-worker)
    keras.utils.set_random_seed(train_cfg["seed"])  # same initial weights in every process and rerun
    chief = is_chief(strategy)
    out_dir = worker_dir(run_dir, strategy)
    os.makedirs(out_dir, exist_ok=True)
    dump_config(config, os.path.join(out_dir, "config.yaml"))
    keras.mixed_precision.set_dtype_policy(train_cfg["precision"])
    train_pairs, val_pairs, class_names, label_table = data_sources(config)
    steps, every = training_steps(config, len(train_pairs)), train_cfg["checkpoint_every"]
    common = dict(num_classes=data["num_classes"], label_table=label_table, skip_bad_examples=data["skip_bad_examples"])
    val_ds = kdata.segmentation_dataset(val_pairs, training=False, **common)

    with strategy.scope():
        model = build_model(config)
        optimizer = build_optimizer(config, steps)
        compile_for_training(model, optimizer, config, steps)
    adversarial = isinstance(model, kseg.models.AdversarialSegmenter)
    tracked = dict(model=model, optimizer=optimizer)
    if adversarial:
        tracked["d_optimizer"] = model.d_optimizer
    checkpoint = tf.train.Checkpoint(**tracked)
    manager = tf.train.CheckpointManager(checkpoint, os.path.join(out_dir, "checkpoints"), max_to_keep=3)
    initialised_from = None
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        print(f"Resuming from {manager.latest_checkpoint} (step {int(optimizer.iterations.numpy())})", flush=True)
    elif train_cfg["init_weights"]:
        initialised_from = _initialise_from(model, train_cfg["init_weights"])

    def train_stream(start_batch):
        ds = kdata.segmentation_dataset(
            train_pairs,
            training=True,
            batch_size=data["batch_size"],
            crop_size=tuple(data["crop"]),
            scale_range=tuple(data["scale"]) if data["scale"] else None,
            flip=data["flip"],
            seed=data["seed"],
            repeat=True,
            start_batch=start_batch,  # a resumed run continues the stream where it stopped
            **common,
        )
        if has_similarity_head(model):  # both outputs are supervised by the same label map
            ds = ds.map(lambda images, masks: (images, {"logits": masks, "similarity": masks}))
        return shard_by_data(ds) if strategy.num_replicas_in_sync > 1 else ds

    callbacks = [
        keras.callbacks.TerminateOnNaN(),
        _LearningRateLogger(),
        _Checkpointer(manager),
        keras.callbacks.TensorBoard(os.path.join(out_dir, "logs"), update_freq="epoch"),
    ]
    # Keras "epochs" of `every` steps end in a checkpoint; when `every` does not divide
    # `steps`, a last shorter epoch ends the run exactly at `steps`.
    full_epochs, rest = divmod(steps, every)
    history = None
    for epochs, steps_per_epoch in [(full_epochs, every)] + ([(full_epochs + 1, rest)] if rest else []):
        done = int(optimizer.iterations.numpy())
        if done >= min(steps, epochs * every):
            continue
        history = model.fit(
            train_stream(done),
            epochs=epochs,
            initial_epoch=min(done // every, full_epochs),
            steps_per_epoch=steps_per_epoch,
            shuffle=False,  # the tf.data pipeline shuffles
            callbacks=callbacks,
            verbose=verbose if chief else 0,
        )
    step = int(optimizer.iterations.numpy())
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
    if initialised_from:
        result["initialised_from"] = initialised_from
    if adversarial:
        result["generator"] = save_model_atomically(segmenter, os.path.join(out_dir, "generator.keras"))
    if chief:
        scores = evaluate_dataset(segmenter, val_ds, data["num_classes"])
        json_path, md_path = write_report(scores, class_names, os.path.join(out_dir, "eval"), title=config["name"])
        result.update(
            metrics={"json": json_path, "markdown": md_path},
            exports=export_saved_model_of_run(segmenter, config, out_dir, step),
            val_mean_iou=scores["mean_iou"],
            val_pixel_accuracy=scores["pixel_accuracy"],
        )
        if config["export"]["onnx"]:
            del model, segmenter, optimizer, checkpoint, manager, tracked, callbacks, history, val_ds
            release_memory()
            result["exports"]["onnx"] = export_onnx_of_run(result.get("generator", model_path), config, out_dir)
    _write_json_atomically(result, os.path.join(out_dir, "result.json"))
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


def _write_json_atomically(value, path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(value, f, indent=2)
    os.replace(tmp, path)


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
    results, previous_model = [], None
    for index, (name, stage_config) in enumerate(stages, 1):
        folder = stage_dir(run_dir, index, name)
        done = os.path.join(worker_dir(folder, strategy), "result.json")
        if os.path.isfile(done):
            print(f"Stage {index} ({name}) already finished: {done}", flush=True)
            with open(done) as f:
                result = json.load(f)
        else:
            print(f"Stage {index}/{len(stages)} ({name}) in {folder}", flush=True)
            stage_config = copy.deepcopy(stage_config)
            if previous_model is not None:
                stage_config["train"]["init_weights"] = previous_model
            if index < len(stages):  # only the final model is deployed
                stage_config["export"].update(saved_model=False, onnx=False)
            result = train(stage_config, folder, verbose, strategy=strategy)
        results.append({"stage": name, **result})
        previous_model = os.path.join(worker_dir(folder, strategy), "model.keras")
    out_dir = worker_dir(run_dir, strategy)
    os.makedirs(out_dir, exist_ok=True)
    dump_config(config, os.path.join(out_dir, "config.yaml"))
    final_model = os.path.join(out_dir, "model.keras")
    tmp = final_model + ".tmp"
    shutil.copyfile(previous_model, tmp)
    os.replace(tmp, final_model)
    summary = {**results[-1], "run_dir": out_dir, "config": os.path.join(out_dir, "config.yaml"), "model": final_model}
    summary["stages"] = results
    _write_json_atomically(summary, os.path.join(out_dir, "result.json"))
    return summary
