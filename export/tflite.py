"""`python -m export.tflite`: a trained kseg model as a TFLite (LiteRT) file at a fixed input
size, checked in the TFLite interpreter against TensorFlow.

    python -m export.tflite --model runs/builtin_pan --out pan.tflite --size 256,256
    python -m export.tflite --model model.keras --out pan_fp16.tflite --size 512,512 --quantize float16

Input `images` float32 (1, H, W, 3) RGB in [0, 255]; outputs `logits` and `labels` int32.
Exit status: 0 written; 1 the check failed (float labels agree on < 99.9% of pixels:
nothing written); 2 bad arguments or ops TFLite cannot convert (named).
"""

import argparse
import json
import sys

from kseg.output_paths import output_file
from kseg.remote_inputs import add_model_argument
from training.command import run_as_process
from training.quiet import start_tensorflow

start_tensorflow()  # before anything imports TensorFlow: its start-up log lines held back


def _size(text):
    try:
        height, width = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected H,W (two positive integers). Received: {text!r}") from None
    if height < 1 or width < 1:
        raise argparse.ArgumentTypeError(f"expected H,W (two positive integers). Received: {text!r}")
    return height, width


def main(argv=None):
    from kseg.serving.tflite import QUANTIZATIONS

    parser = argparse.ArgumentParser(prog="python -m export.tflite", description=__doc__.split("\n\n")[0])
    add_model_argument(parser, "a training run folder or a .keras file")
    parser.add_argument("--out", required=True, type=output_file, help="output .tflite file")
    parser.add_argument("--size", type=_size, default=(256, 256), help="the fixed input H,W (default 256,256)")
    parser.add_argument("--quantize", choices=QUANTIZATIONS, default="none", help="weight quantisation")
    parser.add_argument("--no-verify", action="store_true", help="skip the interpreter check")
    args = parser.parse_args(argv)

    from kseg.models.loading import load_inference_model
    from kseg.serving.labels import run_labels
    from kseg.serving.tflite import TFLiteExportError, export_tflite

    try:
        result = export_tflite(
            load_inference_model(args.model), args.out, args.size, args.quantize, check=not args.no_verify,
            labels=run_labels(args.model),
        )
    except (TFLiteExportError, FileNotFoundError, ValueError) as error:
        print(f"python -m export.tflite: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    if "verification" in result and not result["verification"]["ok"]:
        print("python -m export.tflite: error: TFLite labels differ from TensorFlow's on more than 0.1% of pixels; "
              "nothing written", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    run_as_process(main)
