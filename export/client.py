"""`python -m export.client`: segment images with a model served by TF Serving.

    python -m export.client --url http://localhost:8501 --model pan photo.jpg --out mask.png
    python -m export.client --grpc localhost:8500 --model pan a.jpg b.png --out masks/

Writes each label map as a paletted PNG (pixel value = class index, VOC colours) and
prints the classes found.
"""

import argparse
import os
import sys

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m export.client", description=__doc__.split("\n\n")[0])
    route = parser.add_mutually_exclusive_group(required=True)
    route.add_argument("--url", help="REST endpoint, e.g. http://localhost:8501")
    route.add_argument("--grpc", help="gRPC target, e.g. localhost:8500 (needs tensorflow-serving-api)")
    parser.add_argument("--model", required=True, help="model name on the server")
    parser.add_argument("--version", type=int, help="model version (default: the server's latest)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds")
    parser.add_argument("--out", help="mask PNG (one image) or folder (several)")
    parser.add_argument("images", nargs="+", help="JPEG or PNG files")
    args = parser.parse_args(argv)

    from kseg.serving.client import ServingError, mask_png, predict_grpc, predict_rest

    payloads = []
    for path in args.images:
        if not os.path.isfile(path):
            parser.error(f"no such image: {path}")
        with open(path, "rb") as f:
            payloads.append(f.read())
    try:
        if args.url:
            masks = predict_rest(args.url, args.model, payloads, args.version, args.timeout)
        else:
            masks = predict_grpc(args.grpc, args.model, payloads, args.version, args.timeout)
    except ServingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    several = len(args.images) > 1
    if args.out and several:
        os.makedirs(args.out, exist_ok=True)
    for path, mask in zip(args.images, masks):
        classes, counts = np.unique(mask, return_counts=True)
        share = ", ".join(f"{c}: {n / mask.size:.1%}" for c, n in zip(classes, counts))
        print(f"{path}: {mask.shape[0]}x{mask.shape[1]}, classes {share}")
        if args.out:
            stem = os.path.splitext(os.path.basename(path))[0]
            target = os.path.join(args.out, f"{stem}.png") if several else args.out
            with open(target, "wb") as f:
                f.write(mask_png(mask))
    return 0


if __name__ == "__main__":
    sys.exit(main())
