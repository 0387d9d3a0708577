"""`python -m export.saved_model`: a kseg model as a TF Serving SavedModel.

    python -m export.saved_model --model runs/builtin_pan --out exported --name pan
    python -m export.saved_model --model model.keras --out exported --name pan --crf dense --size 512,512

Writes <out>/<name>/<version>/ atomically (version = next integer unless --version) and
adds the model to <out>/models.config. Serve it with:

    docker run -p 8501:8501 -p 8500:8500 -v "$PWD/exported:/models" tensorflow/serving \
        --model_config_file=/models/models.config
"""

import argparse
import json
import sys

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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m export.saved_model", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a training run folder or a .keras file")
    parser.add_argument("--out", required=True, help="serving root folder (TF Serving's /models)")
    parser.add_argument("--name", required=True, help="model name (REST path /v1/models/<name>)")
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
    parser.add_argument("--serving-root", default="/models", help="where the server sees --out (models.config)")
    args = parser.parse_args(argv)
    crf = resolve_crf(parser, args, args.model)

    from kseg.serving import ExportError, export_saved_model
    from kseg.models.loading import load_inference_model
    from kseg.serving.labels import run_labels

    try:
        model = load_inference_model(args.model, args.precision)
        path = export_saved_model(
            model,
            args.out,
            args.name,
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
