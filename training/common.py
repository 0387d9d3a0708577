"""Arguments shared by the commands that read a trained run (evaluate, tune_crf)."""

import os

from kseg.training.config import ConfigError, load_config


def add_run_arguments(parser):
    parser.add_argument("--run", help="a training run folder (uses its model.keras and config.yaml)")
    parser.add_argument("--model", help="a .keras model (default: <run>/model.keras)")
    parser.add_argument("--config", help="recipe YAML (default: <run>/config.yaml)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    parser.add_argument("--split", help="split to use (default: the config's data.val_split)")


def resolve_run(parser, args):
    """(model_path, config) from --run / --model / --config / --set / --split; errors go through the parser."""
    if not args.run and not (args.model and args.config):
        parser.error("give --run, or both --model and --config")
    model_path = args.model or os.path.join(args.run, "model.keras")
    config_path = args.config or os.path.join(args.run, "config.yaml")
    for what, path in (("--model", model_path), ("--config", config_path)):
        if not os.path.isfile(path):
            parser.error(f"{what}: no such file: {path}")
    try:
        config = load_config(config_path, args.set)
    except ConfigError as error:
        parser.error(str(error))
    if args.split:
        config["data"]["val_split"] = args.split
    return model_path, config
