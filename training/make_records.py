"""`python -m training.make_records`: convert a dataset into sharded TFRecords.

    python -m training.make_records --out records/builtin                  # the built-in dataset
    python -m training.make_records --config training/configs/pan_voc.yaml \
        --set data.root=/data/VOCdevkit/VOC2012 --out gs://bucket/voc-records
    python -m training.make_records --set data.format=cityscapes --set data.root=/data/cityscapes \
        --set data.train_split=[train,train_extra] --set data.annotation=gtCoarse --out /data/cityscapes-records

The config's `data` section (as in `training.fit`: `--config`, `--set`) names the source:
format, root, the training and validation splits, class names and label table. One set of
`<split>-NNNNN-of-MMMMM.tfrecord` shards is written per split, then `dataset.json`
(`kseg.data.records`); running it again over finished records does nothing. Exit status:
0 done; 2 a bad config; 1 a bad example (one line naming the file; `--skip-bad-examples`
leaves such examples out and lists them).
"""

import argparse
import sys

from training.command import run_as_process
from training.quiet import start_tensorflow

start_tensorflow()  # before anything imports TensorFlow: its start-up log lines held back

from kseg.training.config import ConfigError, dataset_spec, load_config  # noqa: E402


def _progress(split, done, total):
    if done == total or done % 500 == 0:
        print(f"{split}: {done}/{total}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m training.make_records", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="YAML recipe whose data section names the source (default: the built-in data)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    parser.add_argument("--out", required=True, help="the records folder (local, gs://, any filesystem TensorFlow reads)")
    parser.add_argument("--shard-mb", type=float, default=128.0, help="close a shard at this many MB (default 128)")
    parser.add_argument("--skip-bad-examples", action="store_true", help="leave out unreadable or inconsistent pairs, listing them")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    if args.shard_mb <= 0:
        parser.error(f"--shard-mb must be > 0. Received: {args.shard_mb}")
    try:
        config = load_config(args.config, args.set)
    except ConfigError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2

    from kseg.data import DataError
    from kseg.data.records_writer import write_records

    try:
        result = write_records(
            dataset_spec(config), args.out, shard_bytes=int(args.shard_mb * 2**20), skip_bad_examples=args.skip_bad_examples,
            progress=None if args.quiet else _progress,
        )
    except DataError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    if result.get("unchanged"):
        print(f"{args.out} already holds finished records (dataset.json): nothing to do")
        return 0
    for path, reason in result["skipped"].items():
        print(f"skipped {path}: {reason}", file=sys.stderr)
    counts = ", ".join(f"{split} {s['examples']} examples in {len(s['shards'])} shards" for split, s in result["splits"].items())
    print(f"{args.out}: {counts}; train from them with --set data.format=records --set data.root={args.out}")
    return 0


if __name__ == "__main__":
    run_as_process(main)
