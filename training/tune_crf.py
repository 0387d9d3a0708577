"""`python -m training.tune_crf`: DeepLab v2's coarse-to-fine search of the dense CRF's
bilateral parameters on held-out images (§4.1.1: w2 = 3, theta_gamma = 3 fixed; w1 in 3-6,
theta_alpha in 30-100 step 10, theta_beta in 3-6; then half steps around the best).

    python -m training.tune_crf --run runs/deeplab_v2_r101_aspp_l_voc --images 100

Prints the mIoU of every setting (and of the model without CRF) and writes crf_search.json.
"""

import argparse
import json
import sys

from kseg.atomic import write_json
from kseg.output_paths import output_file
from kseg.remote_inputs import fetched_from
from kseg.run_folder import RunFolder
from training.command import run_as_process
from training.quiet import start_tensorflow

start_tensorflow()  # before anything imports TensorFlow: its start-up log lines held back

from training.common import add_run_arguments, resolve_run  # noqa: E402


def _floats(text):
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas. Received: {text}") from None
    if not all(v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected numbers > 0. Received: {text}")
    return values


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m training.tune_crf", description=__doc__.split("\n\n")[0])
    add_run_arguments(parser)
    parser.add_argument("--images", type=int, default=100, help="how many images of the split (paper: 100)")
    parser.add_argument("--w1", type=_floats, default=None, help="first-round bilateral weights, e.g. 3,4,5,6")
    parser.add_argument("--theta-alpha", type=_floats, default=None, help="e.g. 30,40,...,100")
    parser.add_argument("--theta-beta", type=_floats, default=None, help="e.g. 3,4,5,6")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--out", type=output_file, help="output JSON (default: crf_search.json beside the model, where evaluate, predict and the exports read it; "
                        "in the bucket for a model at a URL)")
    args = parser.parse_args(argv)
    for option in ("images", "rounds", "iterations"):
        if getattr(args, option) < 1:
            parser.error(f"--{option} must be >= 1. Received: {getattr(args, option)}")
    model_path, config = resolve_run(parser, args)

    from kseg.crf_tuning import DEEPLAB_GRID, grid_search_crf, unrefined_miou
    from kseg.data import DataError, named_data_errors
    from kseg.models.loading import load_inference_model
    from kseg.training.evaluation import split_dataset

    model = load_inference_model(model_path)
    num_classes = config["data"]["num_classes"]
    try:
        dataset, _, _ = split_dataset(config, args.images)
        with named_data_errors():
            samples = [(model(images, training=False).numpy(), images.numpy(), masks.numpy()) for images, masks in dataset]
    except DataError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    grid = {
        "bilateral_weight": args.w1 or DEEPLAB_GRID["bilateral_weight"],
        "theta_alpha": args.theta_alpha or DEEPLAB_GRID["theta_alpha"],
        "theta_beta": args.theta_beta or DEEPLAB_GRID["theta_beta"],
    }

    def report(result):
        print(
            f"round {result['round']}  w1={result['bilateral_weight']:g}  theta_alpha={result['theta_alpha']:g}  "
            f"theta_beta={result['theta_beta']:g}  mIoU={100 * result['mean_iou']:.2f}%",
            flush=True,
        )

    baseline = unrefined_miou(samples, num_classes)
    print(f"without CRF: mIoU={100 * baseline:.2f}% on {len(samples)} images", flush=True)
    best, results = grid_search_crf(
        samples, num_classes, grid=grid, rounds=args.rounds, num_iterations=args.iterations, callback=report
    )
    out = args.out or RunFolder.of(model_path).crf_search
    write_json(out, {"images": len(samples), "num_iterations": args.iterations, "without_crf_mean_iou": baseline,
                     "best": best, "results": results})
    if not args.out and fetched_from(out):  # a model at a URL: its search beside it there
        from kseg.remote_io import upload

        upload(out, fetched_from(out))
        out = fetched_from(out)
    print(f"\nbest: {json.dumps(best)} -- all settings in {out}")
    return 0


if __name__ == "__main__":
    run_as_process(main)
