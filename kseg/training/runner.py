"""The training job behind `python -m training.fit`: data, model, optimiser, checkpoints,
resume, evaluation, saving."""

import json
import math
import os
import tempfile

import keras
import tensorflow as tf

import kseg
from kseg import data as kdata
from kseg.training.config import dump_config
from kseg.training.distribute import is_chief, make_strategy, shard_by_data, worker_dir
from kseg.training.evaluation import evaluate_dataset, write_report
from kseg.training.optimizers import CoupledWeightDecaySGD
from kseg.training.schedules import PolyDecay


def data_sources(config):
    """(train_pairs, val_pairs, class_names, label_table) for the configured dataset."""
    data = config["data"]
    fmt, root = data["format"], data["root"]
    label_table = None
    if fmt == "builtin":
        root = kdata.ensure_builtin_dataset(root)
        names = kdata.BUILTIN_CLASSES
        train, val = kdata.voc_pairs(root, data["train_split"]), kdata.voc_pairs(root, data["val_split"])
    elif fmt == "voc":
        names = kdata.VOC_CLASSES
        train, val = kdata.voc_pairs(root, data["train_split"]), kdata.voc_pairs(root, data["val_split"])
    elif fmt == "cityscapes":
        names = kdata.CITYSCAPES_CLASSES
        label_table = kdata.cityscapes_train_id_table()
        train = kdata.cityscapes_pairs(root, data["train_split"], data["annotation"])
        val = kdata.cityscapes_pairs(root, data["val_split"], "gtFine")
    else:
        names = tuple(f"class_{i}" for i in range(data["num_classes"]))
        train, val = kdata.folder_pairs(os.path.join(root, "train")), kdata.folder_pairs(os.path.join(root, "val"))
    if len(names) != data["num_classes"]:
        raise ValueError(
            f"data.num_classes={data['num_classes']} but the {fmt} dataset has {len(names)} classes"
        )
    return train, val, names, label_table


def build_model(config):
    model_cfg, num_classes = config["model"], config["data"]["num_classes"]
    if model_cfg["architecture"] in ("seggan", "ssgan"):
        return _build_gan(config)
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


def build_d_optimizer(config):
    """Adam for a discriminator (Seg-GAN §4.2), with the segmentation network's poly decay."""
    adv = config["adversarial"]
    schedule = PolyDecay(adv["d_learning_rate"], config["train"]["steps"], power=config["optimizer"]["power"])
    return keras.optimizers.Adam(learning_rate=schedule, beta_1=adv["d_beta_1"], beta_2=adv["d_beta_2"])


def build_optimizer(config):
    opt = config["optimizer"]
    schedule = PolyDecay(opt["learning_rate"], config["train"]["steps"], power=opt["power"])
    return CoupledWeightDecaySGD(
        learning_rate=schedule, momentum=opt["momentum"], nesterov=opt["nesterov"], l2=opt["weight_decay"]
    )


def build_loss(config):
    if config["train"]["loss"] == "ohem":
        return kseg.losses.OHEMCrossEntropy()
    return kseg.losses.MaskedSparseCategoricalCrossentropy()


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


def export_run(model, config, run_dir, step):
    """Export the trained model as the config's `export` section asks: a SavedModel at
    `<run>/serving/<name>/<step>/` (the step is the version, so re-running a finished job
    rewrites the same version) and `<run>/model.onnx`. A failed export is reported in the
    result and does not discard the trained model."""
    from kseg.serving import OnnxExportError, export_onnx, export_saved_model

    options, exports = config["export"], {}
    name = options["name"] or config["name"]
    if options["saved_model"]:
        exports["saved_model"] = export_saved_model(
            model, os.path.join(run_dir, "serving"), name, version=max(step, 1), crf=options["crf"], overwrite=True
        )
    if options["onnx"]:
        try:
            exports["onnx"] = export_onnx(model, os.path.join(run_dir, "model.onnx"), crf=options["crf"])
        except (OnnxExportError, ImportError) as error:
            print(f"ONNX export failed: {error}", flush=True)
            exports["onnx"] = {"error": str(error)}
    return exports


def train(config, run_dir, verbose=1):
    """Train (or resume) the configured model in `run_dir`, evaluate it, save and export it.

    With `train.strategy=multi_worker` every worker runs this with the same config and
    `TF_CONFIG` naming its task; `data.batch_size` is the global batch. The chief writes to
    `run_dir`; the other workers write their checkpoints and final model to
    `<run_dir>/worker-<i>` and skip evaluation and export. BatchNormalization computes its
    statistics per replica (as DeepLab's and PAN's multi-GPU training did), so only models
    without BN (DeepLab-LargeFOV) train exactly like one process with the same global batch.

    Returns a dict of what was produced (paths, steps, mIoU).
    """
    data, train_cfg = config["data"], config["train"]
    strategy = make_strategy(train_cfg["strategy"])  # before any other TF op (multi-worker)
    keras.utils.set_random_seed(train_cfg["seed"])  # same initial weights in every process and rerun
    chief = is_chief(strategy)
    out_dir = worker_dir(run_dir, strategy)
    os.makedirs(out_dir, exist_ok=True)
    dump_config(config, os.path.join(out_dir, "config.yaml"))
    keras.mixed_precision.set_dtype_policy(train_cfg["precision"])
    train_pairs, val_pairs, class_names, label_table = data_sources(config)
    common = dict(num_classes=data["num_classes"], label_table=label_table, skip_bad_examples=data["skip_bad_examples"])
    val_ds = kdata.segmentation_dataset(val_pairs, training=False, **common)

    with strategy.scope():
        model = build_model(config)
        optimizer = build_optimizer(config)
        adversarial = isinstance(model, kseg.models.AdversarialSegmenter)
        if adversarial:  # its train_step has its own losses and metrics
            model.compile(g_optimizer=optimizer, d_optimizer=build_d_optimizer(config), jit_compile=train_cfg["jit_compile"])
        else:
            model.compile(
                optimizer=optimizer,
                loss=build_loss(config),
                metrics=[kseg.metrics.ConfusionMatrixMetric(data["num_classes"])],
                jit_compile=train_cfg["jit_compile"],
            )
            optimizer.build(model.trainable_variables)
    tracked = dict(model=model, optimizer=optimizer)
    if adversarial:
        tracked["d_optimizer"] = model.d_optimizer
    checkpoint = tf.train.Checkpoint(**tracked)
    manager = tf.train.CheckpointManager(checkpoint, os.path.join(out_dir, "checkpoints"), max_to_keep=3)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        print(f"Resuming from {manager.latest_checkpoint} (step {int(optimizer.iterations.numpy())})", flush=True)

    steps, every = train_cfg["steps"], train_cfg["checkpoint_every"]

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
    # What is evaluated and deployed: a GAN's segmentation network alone.
    segmenter = model.generator if adversarial else model
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
    if adversarial:
        result["generator"] = save_model_atomically(segmenter, os.path.join(out_dir, "generator.keras"))
    if chief:
        scores = evaluate_dataset(segmenter, val_ds, data["num_classes"])
        json_path, md_path = write_report(scores, class_names, os.path.join(out_dir, "eval"), title=config["name"])
        result.update(
            metrics={"json": json_path, "markdown": md_path},
            exports=export_run(segmenter, config, out_dir, step),
            val_mean_iou=scores["mean_iou"],
            val_pixel_accuracy=scores["pixel_accuracy"],
        )
    with open(os.path.join(out_dir, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
    return result
