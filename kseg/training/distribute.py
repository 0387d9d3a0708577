"""tf.distribute strategies for `training.fit` and what a multi-worker run must respect."""

import json
import os

import tensorflow as tf

from kseg.constants import STRATEGIES
from kseg.run_folder import RunFolder


class DistributeError(ValueError):
    """A strategy that cannot be created from the configuration or the environment."""


def read_tf_config():
    """The parsed `TF_CONFIG` of a multi-worker run: checks `cluster.worker` and `task`."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise DistributeError(
            "train.strategy=multi_worker needs the TF_CONFIG environment variable, e.g. "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'
        )
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise DistributeError(f"TF_CONFIG is not valid JSON: {error}") from error
    workers = config.get("cluster", {}).get("worker")
    task = config.get("task", {})
    if not workers or task.get("type") not in ("worker", "chief") or not isinstance(task.get("index"), int):
        raise DistributeError(
            f"TF_CONFIG must list cluster.worker addresses and a task {{type: worker, index: i}}. Received: {raw}"
        )
    if task["type"] == "worker" and not 0 <= task["index"] < len(workers):
        raise DistributeError(f"TF_CONFIG task.index={task['index']} but the cluster has {len(workers)} workers")
    return config


def make_strategy(name):
    """The strategy for `train.strategy`. Create it before any other TF op: the multi-worker
    strategy configures the TF runtime (collective ops over gRPC) when constructed."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        from kseg.training.keras_compat import patch_multi_worker_fit

        read_tf_config()
        patch_multi_worker_fit()
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.RING
        )
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    raise DistributeError(f"Unknown strategy {name!r}. Expected one of {STRATEGIES}.")


def is_chief(strategy):
    """True on the process that writes checkpoints, logs and the model: the only process,
    or worker 0 (or the "chief" task) of a multi-worker cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)():
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0)


def worker_count(strategy):
    """The number of processes (chief and workers) that train together: 1 outside a multi-worker run."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)():
        return 1
    spec = resolver.cluster_spec().as_dict()
    return len(spec.get("chief", [])) + len(spec.get("worker", []))


def worker_dir(run_dir, strategy):
    """Where this process writes: `run_dir` on the chief; `<run_dir>/worker-<i>` on the
    other workers (every worker must save, since saving a distributed model is a collective
    step, but only the chief's files are the run's)."""
    if is_chief(strategy):
        return run_dir
    return RunFolder(run_dir).worker(strategy.cluster_resolver.task_id).path


def shard_by_data(dataset):
    """Auto-shard by data: every worker reads the whole (deterministic) pipeline and keeps its
    slice of each global batch, so the union over workers is the single-process batch."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)
