"""The training input on tf.data service workers (`data.service: grpc://host:port`).

The records pipeline (TensorFlow ops only, `kseg.data.records_pipeline`) is sent to the
dispatcher, which runs it on its workers with `ShardingPolicy.HINT`: worker i of n decodes and
augments the examples at stream positions i, i + n, ... (each reads every record and skips
the others' unread), so the examples trained on are those of the in-process stream, none
twice. The order in which the workers' batches arrive is not fixed: a run through the service
is not reproducible batch for batch, and a resumed run continues at the position it reached.
Static sharding needs the dispatcher to know its workers' addresses
(`python -m training.data_service`).
"""

import tensorflow as tf

from kseg.data.pipeline_options import without_autotune_model


def distribute(dataset, service):
    """`dataset` (built with `shard_hint=True`) read from the tf.data service at `service` (grpc://host:port)."""
    return without_autotune_model(dataset.apply(tf.data.experimental.service.distribute(
        processing_mode=tf.data.experimental.service.ShardingPolicy.HINT, service=service,
    )))


def start_dispatcher(port, workers):
    """A dispatcher on `port` (0: any free one) for the workers at `workers` ("host:port" each)."""
    return tf.data.experimental.service.DispatchServer(
        tf.data.experimental.service.DispatcherConfig(port=port, worker_addresses=list(workers))
    )


def start_worker(dispatcher, port, host="localhost"):
    """A worker on `port` registered with `dispatcher` ("host:port") as `host:port` (what the dispatcher lists)."""
    return tf.data.experimental.service.WorkerServer(
        tf.data.experimental.service.WorkerConfig(dispatcher_address=dispatcher, worker_address=f"{host}:{port}", port=port)
    )
