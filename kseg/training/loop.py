"""The training loop: `model.fit` in chunks that each end in a checkpoint, with the
divergence guard and the data stream resumed at the optimizer's step."""

import math

import keras

from kseg import data as kdata
from kseg.data.records_pipeline import files_per_worker, records_training_dataset
from kseg.run_folder import RunFolder
from kseg.training.distribute import is_chief, shard_by_data, worker_count
from kseg.training.first_trace import build_before_first_trace
from kseg.training.guards import DivergenceGuard, GoodCheckpoints, all_finite, diverged_error
from kseg.training.progress import RunProgress
from kseg.training.validation import PeriodicValidation


class _LearningRateLogger(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


class _Upload(keras.callbacks.Callback):
    """Pushes the run folder to its bucket (`kseg.training.run_mirror.RunMirror`) at the end of
    every chunk, after its checkpoint and validation."""

    def __init__(self, mirror):
        super().__init__()
        self.mirror = mirror

    def on_epoch_end(self, epoch, logs=None):
        self.mirror.push()


def chunk_plan(done, steps, every, also_every=None):
    """The `model.fit` calls that take a run from step `done` to `steps` in Keras "epochs"
    ending at multiples of `every` (each ends in a checkpoint) or at `steps`:
    [(initial_epoch, epochs, steps_per_epoch)]. A run resumed after `every` changed first
    trains up to the next multiple, so no step is trained twice or skipped. With
    `also_every` (validation steps) chunks end at the multiples of either, one a call."""
    if also_every is not None:
        return _union_plan(done, steps, (every, also_every))
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


def _union_plan(done, steps, periods):
    plan = []
    while done < steps:
        end = min(steps, min((done // period + 1) * period for period in periods))
        index = sum(done // period for period in periods)  # grows by >= 1 a chunk, the same on resume
        plan.append((index, index + 1, end - done))
        done = end
    return plan


def execution_length(requested, plan):
    """The steps per call into the compiled train step: `requested`, reduced to the largest
    number that divides every chunk of `plan` (`chunk_plan`), because Keras runs a whole
    execution even past `steps_per_epoch` and every chunk must end on its checkpoint step."""
    return math.gcd(requested, *(length for _, _, length in plan))


def _set_execution_length(model, requested, plan):
    length = execution_length(requested, plan)
    if length != model.steps_per_execution:
        model.steps_per_execution = length
        model.train_function = None  # rebuilt with the new length at the next fit


def photometric_settings(data):
    """The `data` section's photometric augmentation (`data.photometric`, `data.blur`), or None."""
    if not data.photometric:
        return None
    return kdata.Photometric(blur_probability=data.blur)


def training_stream(job, start_batch):
    """The endless augmented training stream from batch `start_batch` on, as the task's
    targets: records of a multi-worker run sharded by file when there are enough shards
    (`files_per_worker`), every other stream sharded by data."""
    data = job.config.data
    split, workers = job.splits.train_pairs, worker_count(job.strategy)
    if isinstance(split, kdata.RecordsSplit) and data.service is None and files_per_worker(split, workers):
        return _records_sharded_by_file(job, start_batch)
    ds = kdata.segmentation_dataset(
        job.splits.train_pairs,
        num_classes=data.num_classes,
        training=True,
        batch_size=data.batch_size,
        crop_size=tuple(data.crop),
        scale_range=tuple(data.scale) if data.scale else None,
        flip=data.flip,
        seed=data.seed,
        label_table=job.splits.label_table,
        skip_bad_examples=job.bad_train,
        repeat=True,
        start_batch=start_batch,  # a resumed run continues the stream where it stopped
        shard_hint=data.service is not None,
        photometric=photometric_settings(data),
    )
    if data.service is not None:
        from kseg.data.service import distribute

        ds = distribute(ds, data.service)
    ds = job.task.training_targets(ds, job.model)
    if job.strategy.num_replicas_in_sync == 1:
        return ds
    if isinstance(split, kdata.RecordsSplit) and workers > 1 and is_chief(job.strategy):
        print(f"records: sharded by data: {len(split.files)} shards for {workers} workers, so every worker reads all "
              "of them and keeps its share of each global batch", flush=True)
    return shard_by_data(ds)


def _records_sharded_by_file(job, start_batch):
    """Each worker's own shards (i, i + n, ...), batched per replica, as a distributed
    dataset: a global batch is every replica's batch of its worker's records."""
    data, split, strategy = job.config.data, job.splits.train_pairs, job.strategy

    def pipeline(context):
        replicas_here = strategy.num_replicas_in_sync // context.num_input_pipelines
        worker, workers = context.input_pipeline_id, context.num_input_pipelines
        print(f"records: sharded by file: worker {worker} of {workers} reads shards "
              f"{', '.join(path.rsplit('/', 1)[-1] for path in split.files[worker::workers])}", flush=True)
        ds = records_training_dataset(
            split, data.num_classes, context.get_per_replica_batch_size(data.batch_size), tuple(data.crop),
            tuple(data.scale) if data.scale else None, data.flip, data.seed,
            start_batch=start_batch * replicas_here, file_shard=(worker, workers), photometric=photometric_settings(data),
        )
        return job.task.training_targets(ds, job.model)

    return strategy.distribute_datasets_from_function(pipeline)


def fit(job, verbose):
    """Train `job.model` from its optimizer's step to `job.steps` along `chunk_plan`, a
    checkpoint at the end of every chunk (chunks also end at every `train.eval_every` steps,
    where the chief, whose `job.best` is set, validates); `verbose` (on the chief only) prints the run's
    progress (`RunProgress`). Raises `TrainingDiverged` at a non-finite loss
    or weight. Returns the last History (None when nothing was left to train)."""
    model, config = job.model, job.config
    guard = DivergenceGuard()
    callbacks = [
        guard,
        _LearningRateLogger(),
        GoodCheckpoints(job.manager, guard, model.variables),
        keras.callbacks.TensorBoard(RunFolder(job.out_dir).logs, update_freq="epoch"),
    ]
    if verbose and is_chief(job.strategy):
        callbacks.append(RunProgress(job.steps))
    # Validation during training: every worker's chunks end at its steps, so all save their
    # checkpoints together; the chief (the one holding `job.best`) validates while the others
    # wait at the next step's all-reduce.
    validation_every = config.train.eval_every
    if job.best is not None:
        callbacks.append(PeriodicValidation(job, validation_every, job.best))
    if job.mirror is not None:  # last: uploads what the others wrote
        callbacks.append(_Upload(job.mirror))
    iterations = model.optimizer.iterations
    history = None
    plan = chunk_plan(int(iterations.numpy()), job.steps, config.train.checkpoint_every, validation_every)
    _set_execution_length(model, config.train.steps_per_execution, plan)
    for initial_epoch, epochs, steps_per_epoch in plan:
        if guard.step is not None:
            break
        stream = training_stream(job, int(iterations.numpy()))
        build_before_first_trace(model, stream)
        history = model.fit(
            stream,
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            shuffle=False,  # the tf.data pipeline shuffles
            callbacks=callbacks,
            verbose=0,
        )
        if kdata.pending_data_error() is not None:  # a bad-examples limit ended the stream
            break
    if guard.step is None and not all_finite(model.variables):
        guard.step = int(iterations.numpy())
    if guard.step is not None:
        raise diverged_error(guard, job.manager)
    return history
