"""`python -m training.fit`: train a kseg model from a recipe, evaluate it and save it.

    python -m training.fit                                   # small PAN on the built-in data (minutes on a CPU)
    python -m training.fit --config training/configs/pan_voc.yaml --set data.root=/data/VOCdevkit/VOC2012
    python -m training.fit --config ... --set train.steps=1000 --set data.batch_size=4
    python -m training.fit --config training/configs/deeplab_v2_voc.yaml --dry-run   # check a recipe, build its model
    python -m training.fit --config ... --run-dir gs://bucket/runs/pan   # a run folder in a bucket: resumes on any machine
    TF_CONFIG='{"cluster": {"worker": ["host1:2222", "host2:2222"]}, "task": {"type": "worker", "index": 0}}' \
        python -m training.fit --strategy multi_worker   # on each machine, index 0, 1, ...

Running the same command again after an interruption resumes from the last checkpoint
in the run folder (every variable of the model and optimizers, the step counter, the data
stream position). Exit status: 0 done; 2 a bad config (one line naming the key); 1 the run
failed (bad data, a diverged loss, the run folder in use) with one line saying why --
a failed or diverged run saves, evaluates and exports nothing.
"""

import argparse
import json
import os
import sys

from kseg.output_paths import output_folder_or_url, url_scheme
from training.command import TERMINATED, Terminated, exit_with, stop_on_sigterm
from training.quiet import start_tensorflow
from kseg.platform import prefer_onednn_for_training

ONEDNN_NOTE = prefer_onednn_for_training()  # before TensorFlow loads, which reads the setting once (kseg/platform.py)
start_tensorflow()  # before anything imports TensorFlow: its start-up log lines held back (training/quiet.py)

from kseg.constants import STRATEGIES  # noqa: E402
from kseg.training.config import ConfigError, config_text, load_config  # noqa: E402


CONFIG_ERROR, RUN_FAILED = 2, 1


def fail(prog, error, status):
    """One line on stderr naming the problem; the exit status."""
    print(f"{prog}: error: {error}", file=sys.stderr)
    return status


def _dry_run(parser, config):
    from kseg.training.runner import dry_run

    try:
        stages = dry_run(config)
    except ConfigError as error:
        return fail(parser.prog, error, CONFIG_ERROR)
    print(config_text(config), end="")
    for stage in stages:
        where = f"stage {stage['stage']}: " if stage["stage"] else ""
        print(f"# {where}{stage['architecture']} -> {stage['model']}: {stage['parameters']:,} parameters")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m training.fit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="YAML recipe (training/configs/*.yaml); default: the built-in preset")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    parser.add_argument(
        "--run-dir", type=output_folder_or_url,
        help="where checkpoints, logs, metrics and the model go (default: runs/<name>); a URL (gs://...) trains in a "
        "local working copy uploaded after every checkpoint (docs/training.md)",
    )
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        help="tf.distribute strategy (train.strategy); multi_worker reads TF_CONFIG",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--skip-bad-examples", action="store_true", help="log and skip unreadable or inconsistent files instead of stopping"
    )
    parser.add_argument(
        "--dry-run", action="store_true",
        help="resolve and check the config, build the model, print both and exit (no data, no run folder)",
    )
    args = parser.parse_args(argv)
    if args.strategy:
        args.set.append(f"train.strategy={args.strategy}")
    if args.skip_bad_examples:
        args.set.append("data.skip_bad_examples=true")
    try:
        config = load_config(args.config, args.set)
    except ConfigError as error:
        return fail(parser.prog, error, CONFIG_ERROR)

    from kseg.training.errors import RUN_ERRORS, storage_error  # TensorFlow is imported only once the arguments are fine
    from kseg.training.run_mirror import working_copy
    from kseg.training.runner import run

    if args.dry_run:
        return _dry_run(parser, config)

    stop_on_sigterm()  # so the run unwinds and its lock is released
    if ONEDNN_NOTE:
        print(ONEDNN_NOTE, flush=True)
    run_dir = args.run_dir or os.path.join("runs", config["name"])
    try:
        result = run(config, run_dir, verbose=0 if args.quiet else 1)
    except ConfigError as error:
        return fail(parser.prog, error, CONFIG_ERROR)
    except RUN_ERRORS as error:
        return fail(parser.prog, error, RUN_FAILED)
    except Terminated as error:
        return fail(parser.prog, f"{error}; rerun the same command to resume from the last checkpoint", TERMINATED)
    except Exception as error:  # a disk that refuses writes is one line; anything else stays a traceback
        message = storage_error(error, working_copy(run_dir) if url_scheme(run_dir) else run_dir)
        if message is None:
            raise
        return fail(parser.prog, message, RUN_FAILED)
    print(json.dumps(result, indent=2))
    if "val_mean_iou" in result:  # the chief evaluates; other workers only train
        model = result.get("segmenter", result["model"])  # the network evaluated (a GAN's generator)
        print(f"\nval mIoU {100 * result['val_mean_iou']:.2f}% -- model: {model}, report: {result['metrics']['markdown']}")
    return 0


if __name__ == "__main__":
    exit_with(main(), clean=(0, CONFIG_ERROR))
