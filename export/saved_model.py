"""`python -m export.saved_model`: a kseg model as a TF Serving SavedModel.

    python -m export.saved_model --model runs/builtin_pan --out exported --name pan
    python -m export.saved_model --model model.keras --out exported --name pan --crf dense --size 512,512

Writes <out>/<name>/<version>/ atomically (version = next integer unless --version; name =
the run's `export.name` or `name` unless --name) and adds the model to <out>/models.config. Serve it with:

    docker run -p 8501:8501 -p 8500:8500 -v "$PWD/exported:/models" tensorflow/serving \
        --model_config_file=/models/models.config
"""

import argparse
import json
import os
import sys

from kseg.output_paths import output_folder_or_url
from kseg.remote_inputs import add_model_argument
from training.command import run_as_process
from training.quiet import start_tensorflow

start_tensorflow()  # before anything imports TensorFlow: its start-up log lines held back

from kseg.constants import INFERENCE_PRECISIONS  # noqa: E402
from kseg.serving.graph import MAX_PIXELS, MAX_SIDE  # noqa: E402
from training.common import add_crf_arguments, resolve_crf  # noqa: E402


def _size(text):
    try:
        h, w = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected H,W (two integers). Received: {text!r}")
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"expected positive H,W. Received: {text!r}")
    return h, w


def _non_negative(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0. Received: {text!r}")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0. Received: {text!r}")
    return value


def _run_name(parser, model):
    """The served name of the run `model` belongs to (its config.yaml), or a parser error."""
    from kseg.run_folder import RunFolder
    from kseg.training.artefacts import served_name
    from kseg.training.config import ConfigError, load_config

    config_path = RunFolder.of(model).config
    if not os.path.isfile(config_path):
        parser.error(f"--name: {model} is not in a run folder (no {config_path} to take the run's name from): give --name")
    try:
        return served_name(load_config(config_path))
    except ConfigError as error:
        parser.error(f"--name: cannot take the run's name from {config_path}: {error}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m export.saved_model", description=__doc__.split("\n\n")[0])
    add_model_argument(parser, "a training run folder or a .keras file")
    parser.add_argument(
        "--out", required=True, type=output_folder_or_url,
        help="serving root folder (TF Serving's /models), local or a URL TensorFlow writes (gs://bucket/models)",
    )
    parser.add_argument("--name", help="model name (REST path /v1/models/<name>; default: the run's export.name or name)")
    parser.add_argument("--version", type=int, help="version number (default: next integer)")
    add_crf_arguments(parser, "CRF refinement inside the graph")
    parser.add_argument("--size", type=_size, help="resize inputs to H,W before the model (default: own size)")
    parser.add_argument(
        "--max-side", type=_non_negative, default=MAX_SIDE, metavar="N",
        help=f"images with a longer side run downscaled to N (labels at full size); 0: no limit (default {MAX_SIDE})",
    )
    parser.add_argument(
        "--max-pixels", type=_non_negative, default=MAX_PIXELS, metavar="N",
        help=f"refuse images of more than N pixels before decoding; 0: no cap (default {MAX_PIXELS})",
    )
    parser.add_argument("--no-probabilities", action="store_true", help="return labels only (smaller responses)")
    parser.add_argument(
        "--precision", choices=INFERENCE_PRECISIONS, default="float32",
        help="the served graph computes in bfloat16 (outputs stay float32 probabilities, int32 labels)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing version")
    parser.add_argument(
        "--serving-root", help="where the server sees --out, for models.config (default: /models, or --out if a URL)",
    )
    args = parser.parse_args(argv)
    crf = resolve_crf(parser, args, args.model)
    name = args.name or _run_name(parser, args.model)

    from kseg.serving import ExportError, export_saved_model
    from kseg.models.loading import load_inference_model
    from kseg.serving.labels import run_labels

    try:
        model = load_inference_model(args.model, args.precision)
        path = export_saved_model(
            model,
            args.out,
            name,
            version=args.version,
            crf=args.crf,
            crf_params=crf["params"] if crf else None,
            metadata={"crf": crf} if crf else None,
            size=args.size,
            include_probabilities=not args.no_probabilities,
            overwrite=args.overwrite,
            serving_root=args.serving_root,
            max_side=args.max_side or None,
            max_pixels=args.max_pixels or None,
            labels=run_labels(args.model),
        )
    except (ExportError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps({"saved_model": path, "models_config": f"{args.out}/models.config"}, indent=2))
    return 0


if __name__ == "__main__":
    run_as_process(main)
