"""`python -m training.evaluate`: score a trained model on a whole split.

    python -m training.evaluate --run runs/builtin_pan
    python -m training.evaluate --run runs/pan_r101_voc --scales 0.5,0.75,1.0,1.25,1.5,1.75 --flip
    python -m training.evaluate --model model.keras --config training/configs/pan_cityscapes.yaml \
        --set data.root=/data/cityscapes --sliding-window 768 --stride 512 --crf dense
    python -m training.evaluate --run runs/relationnet_cityscapes --shifted-steps 4   # RelationNet §II-C

Writes metrics.json / metrics.md (mIoU, per-class IoU, pixel and mean accuracy), a
confusion-matrix picture and colourised predictions and overlays of the first images.
"""

import argparse
import json
import sys

from kseg.output_paths import output_folder
from kseg.remote_inputs import fetched_from
from kseg.run_folder import RunFolder
from training.command import run_as_process
from training.quiet import start_tensorflow

start_tensorflow()  # before anything imports TensorFlow: its start-up log lines held back

from training.common import add_run_arguments, add_test_time_arguments, resolve_crf, resolve_run, test_time_options  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n\n")[0])
    add_run_arguments(parser)
    add_test_time_arguments(parser)
    parser.add_argument("--images", type=int, metavar="N", help="score the first N images of the split only")
    parser.add_argument("--save-predictions", type=int, default=8, metavar="N", help="colourise the first N images")
    parser.add_argument("--out", type=output_folder, help="output folder (default: <run>/eval, or ./eval for a model file or a run at a URL)")
    args = parser.parse_args(argv)

    if args.images is not None and args.images < 1:
        parser.error(f"--images must be >= 1. Received: {args.images}")
    options = test_time_options(parser, args)
    model_path, config = resolve_run(parser, args)
    crf = resolve_crf(parser, args, model_path)

    from kseg.data import DataError
    from kseg.inference import TestTimeOptionError
    from kseg.layers.crf import make_crf
    from kseg.training.evaluation import evaluate_split

    if crf is not None:
        options["crf"] = make_crf(crf["crf"], **crf["params"])

    out = args.out or RunFolder(args.run if args.run and not fetched_from(args.run) else ".").eval
    try:
        result = evaluate_split(
            model_path,
            config,
            out,
            **options,
            images=args.images,
            save_predictions=args.save_predictions,
            progress=True,
            details={"crf": crf} if crf else None,
        )
    except TestTimeOptionError as error:
        parser.error(str(error))
    except DataError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    print(f"\nmIoU {100 * result['mean_iou']:.2f}% -- report: {result['markdown']}")
    return 0


if __name__ == "__main__":
    run_as_process(main)
