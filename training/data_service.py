"""`python -m training.data_service`: run a tf.data service dispatcher or worker for
`data.service` (the training input of records on other processes or machines).

    python -m training.data_service dispatcher --port 5050 --workers host1:5051,host2:5051
    python -m training.data_service worker --dispatcher host0:5050 --port 5051 --host host1   # on host1
    python -m training.fit --set data.format=records --set data.root=gs://bucket/records \\
        --set data.service=grpc://host0:5050

The dispatcher lists its workers (`kseg.data.service`: static sharding, each worker decodes
its share of the stream); each worker registers under the `--host`:`--port` the dispatcher
lists. Both serve until stopped (SIGTERM or Ctrl-C). Exit status: 143 stopped; 1 the port
could not be served (in use); 2 a bad argument.
"""

import argparse
import sys
import time

from training.command import run_as_process
from training.quiet import start_tensorflow

start_tensorflow()  # before anything imports TensorFlow: its start-up log lines held back


def _port(text):
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number in 1-65535. Received: {text!r}")
    return port


def _workers(text):
    workers = [address.strip() for address in text.split(",") if address.strip()]
    if not workers:
        raise argparse.ArgumentTypeError("expected one host:port or more, separated by commas. Received none")
    for address in workers:
        host, _, port = address.rpartition(":")
        if not host:
            raise argparse.ArgumentTypeError(f"expected host:port. Received: {address!r}")
        _port(port)
    return workers


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m training.data_service", description=__doc__.split("\n\n")[0])
    roles = parser.add_subparsers(dest="role", required=True)
    dispatcher = roles.add_parser("dispatcher", help="coordinate the workers")
    dispatcher.add_argument("--port", type=_port, required=True)
    dispatcher.add_argument("--workers", type=_workers, required=True, help="comma-separated host:port of every worker")
    worker = roles.add_parser("worker", help="run the input pipeline")
    worker.add_argument("--dispatcher", required=True, help="host:port of the dispatcher")
    worker.add_argument("--port", type=_port, required=True)
    worker.add_argument("--host", default="localhost", help="this worker's host name as the dispatcher lists it")
    args = parser.parse_args(argv)

    from kseg.data.service import start_dispatcher, start_worker

    try:
        if args.role == "dispatcher":
            server = start_dispatcher(args.port, args.workers)
            print(f"tf.data service dispatcher at grpc://localhost:{args.port} for {len(args.workers)} workers: "
                  f"{', '.join(args.workers)}", flush=True)
        else:
            server = start_worker(args.dispatcher, args.port, args.host)
            print(f"tf.data service worker {args.host}:{args.port} of dispatcher {args.dispatcher}", flush=True)
    except RuntimeError as error:  # TensorFlow's "Could not start gRPC server"
        print(f"{parser.prog}: error: cannot serve on port {args.port}: {error} (is the port in use?)", file=sys.stderr)
        return 1
    while server is not None:  # serving in background threads of this process, as long as `server` lives
        time.sleep(3600)  # not server.join(): a Python sleep lets SIGTERM end the process with one line


if __name__ == "__main__":
    run_as_process(main, after="the server stopped")
