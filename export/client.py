"""`python -m export.client`: segment images with a model served by TF Serving.

    python -m export.client --url http://localhost:8501 --model pan photo.jpg --out mask.png
    python -m export.client --grpc localhost:8500 --model pan a.jpg b.png --out masks/

Writes each label map as a paletted PNG (pixel value = class index, VOC colours; with
several images, `<out>/<stem>.png`, `<stem>_2.png` for a second image of the same name) and
prints the classes found. Exit status: 0 done; 1 the server's error or answer (one line);
2 a bad argument or unreadable image.
"""

import argparse
import os
import sys

import numpy as np

from kseg.output_paths import local_path
from training.command import run_as_process


def _positive(text):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0. Received: {text}")
    return value


def _read_images(parser, paths):
    payloads = []
    for path in paths:
        if not os.path.isfile(path):
            parser.error(f"no such image file: {path}")
        try:
            with open(path, "rb") as f:
                payloads.append(f.read())
        except OSError as error:
            parser.error(f"cannot read {path}: {error.strerror or error}")
    return payloads


def _targets(parser, paths, out):
    """Where each image's mask goes: `out` itself for one image, `<out>/<stem>.png` for several."""
    from kseg.inference.images import unique_stem

    if out is None:
        return [None] * len(paths)
    if len(paths) == 1:
        return [out]
    if os.path.exists(out) and not os.path.isdir(out):
        parser.error(f"--out {out} is a file: with several images it names a folder")
    stems = set()
    return [os.path.join(out, unique_stem(os.path.splitext(os.path.basename(p))[0], stems) + ".png") for p in paths]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m export.client", description=__doc__.split("\n\n")[0])
    route = parser.add_mutually_exclusive_group(required=True)
    route.add_argument("--url", help="REST endpoint, e.g. http://localhost:8501")
    route.add_argument("--grpc", help="gRPC target, e.g. localhost:8500 (needs tensorflow-serving-api)")
    parser.add_argument("--model", required=True, help="model name on the server")
    parser.add_argument("--version", type=int, help="model version (default: the server's latest)")
    parser.add_argument("--timeout", type=_positive, default=60.0, help="seconds (default 60)")
    parser.add_argument("--out", type=local_path, help="mask PNG (one image) or folder (several)")
    parser.add_argument("images", nargs="+", help="JPEG, PNG, GIF or BMP files")
    args = parser.parse_args(argv)

    from kseg.atomic import write_bytes
    from kseg.serving.client import ServingError, mask_png, predict_grpc, predict_rest

    if args.url and not args.url.startswith(("http://", "https://")):
        parser.error(f"--url must start with http:// or https://. Received: {args.url}")
    payloads = _read_images(parser, args.images)
    targets = _targets(parser, args.images, args.out)
    try:
        if args.url:
            masks = predict_rest(args.url, args.model, payloads, args.version, args.timeout)
        else:
            masks = predict_grpc(args.grpc, args.model, payloads, args.version, args.timeout)
        if len(masks) != len(payloads):
            raise ServingError(f"sent {len(payloads)} images, received {len(masks)} label maps")
    except ServingError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    for path, mask, target in zip(args.images, masks, targets):
        classes, counts = np.unique(mask, return_counts=True)
        share = ", ".join(f"{c}: {n / mask.size:.1%}" for c, n in zip(classes, counts))
        print(f"{path}: {mask.shape[0]}x{mask.shape[1]}, classes {share}" + (f" -> {target}" if target else ""))
        if target:
            write_bytes(target, mask_png(mask))
    return 0


if __name__ == "__main__":
    run_as_process(main)
