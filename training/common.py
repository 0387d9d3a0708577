"""Arguments shared by the commands that read a trained run (evaluate, tune_crf), local or at a URL
(`kseg.remote_inputs`)."""

import os
import sys

from kseg.constants import CRF_NAMES, INFERENCE_PRECISIONS, TTA_FUSIONS
from kseg.models.loading import ModelFileError, check_keras_file
from kseg.remote_inputs import model_input
from kseg.run_folder import RunFolder
from kseg.training.config import ConfigError, load_config


def _floats(text):
    return tuple(float(v) for v in text.split(","))


def add_test_time_arguments(parser):
    """The test-time procedure options of `kseg.inference.predict` (evaluate, predict)."""
    parser.add_argument("--scales", type=_floats, default=(1.0,), help="comma-separated test scales")
    parser.add_argument("--flip", action="store_true", help="add horizontally flipped inputs")
    parser.add_argument("--fusion", choices=TTA_FUSIONS, default="mean", help="how scales/flips are fused")
    parser.add_argument("--sliding-window", type=int, help="window side for large images")
    parser.add_argument("--stride", type=int, help="window stride (default: 2/3 of the window)")
    parser.add_argument(
        "--shifted-steps", type=int, metavar="N",
        help="shifted multi-step testing (RelationNet §II-C): N^2 runs shifted by output_stride/N pixels, interleaved",
    )
    add_crf_arguments(parser, "refine with a CRF")
    add_precision_argument(parser)


def add_crf_arguments(parser, help_text):
    parser.add_argument("--crf", choices=CRF_NAMES, help=f"{help_text} (dense: the run's training.tune_crf result when it has one)")
    parser.add_argument("--crf-params", metavar="NAME=VALUE,...", help="CRF parameters, over the tuned ones (e.g. bilateral_weight=4,theta_alpha=121)")


def resolve_crf(parser, args, model_path):
    """The CRF settings (`kseg.inference.crf_params.crf_settings`) of `--crf` / `--crf-params`
    for `model_path`, printed as one line on stderr (stdout may carry JSON); errors go
    through the parser."""
    from kseg.inference.crf_params import crf_settings, describe

    try:
        settings = crf_settings(args.crf, model_path, args.crf_params)
    except ValueError as error:
        parser.error(str(error))
    if settings is not None:
        print(describe(settings), file=sys.stderr, flush=True)
    return settings


def add_precision_argument(parser):
    parser.add_argument(
        "--precision", choices=INFERENCE_PRECISIONS, default="float32",
        help="compute in bfloat16 (weights kept, outputs float32; fast on AMX/AVX-512 BF16 CPUs and GPUs)",
    )


def test_time_options(parser, args):
    """The options `add_test_time_arguments` read, checked; errors go through the parser."""
    if args.shifted_steps is not None and args.shifted_steps < 1:
        parser.error(f"--shifted-steps must be >= 1. Received: {args.shifted_steps}")
    if args.shifted_steps and args.sliding_window:
        parser.error("--shifted-steps and --sliding-window cannot be combined")
    return dict(
        scales=args.scales, flip=args.flip, fusion=args.fusion, sliding_window=args.sliding_window,
        stride=args.stride, crf=args.crf, shifted_steps=args.shifted_steps, precision=args.precision,
    )


def add_run_arguments(parser):
    parser.add_argument("--run", type=model_input, help="a training run folder, local or a URL (uses its model.keras and config.yaml)")
    parser.add_argument("--model", type=model_input, help="a .keras model (default: <run>/model.keras)")
    parser.add_argument("--config", type=model_input, help="recipe YAML (default: <run>/config.yaml)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    parser.add_argument("--split", help="split to use (default: the config's data.val_split)")


def resolve_run(parser, args):
    """(model_path, config) from --run / --model / --config / --set / --split; errors go through the parser."""
    if not args.run and not (args.model and args.config):
        parser.error("give --run, or both --model and --config")
    model_path = args.model or RunFolder(args.run).model
    config_path = args.config or RunFolder(args.run).config
    for what, path in (("--model", model_path), ("--config", config_path)):
        if not os.path.isfile(path):
            parser.error(f"{what}: no such file: {path}")
    try:
        check_keras_file(model_path)
    except ModelFileError as error:
        parser.error(f"--model: {error}")
    try:
        config = load_config(config_path, args.set)
    except ConfigError as error:
        parser.error(str(error))
    if args.split:
        config = config.replace({"data.val_split": args.split})
    return model_path, config
