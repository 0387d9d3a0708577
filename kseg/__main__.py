"""`python -m kseg`: build a model and segment a real photo end to end, in seconds.

It builds `kseg.models.PAN(num_classes=21)` with random weights (so the labels are
meaningless: `python -m training.fit` trains a model), runs it on a photo that ships with
matplotlib (or `--image`), and writes the label map, a colourised mask and an overlay.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
from PIL import Image

from kseg.output_paths import output_folder
from kseg.training import preset


def _default_image():
    try:
        import matplotlib
    except ImportError as error:
        raise SystemExit(
            "No --image given and matplotlib (whose sample photo is the default) is not installed: "
            "pip install 'kseg[examples]' or pass --image PATH"
        ) from error
    return os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m kseg", description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", help="RGB image to segment (default: matplotlib's grace_hopper.jpg)")
    parser.add_argument(
        "--model", default=preset.ARCHITECTURE, help=f"a registered segmentation network (default: {preset.ARCHITECTURE})",
    )
    parser.add_argument("--num-classes", type=int, default=21)
    parser.add_argument("--out", default="kseg-demo", type=output_folder, help="output folder (default: ./kseg-demo)")
    args = parser.parse_args(argv)

    import kseg  # imported here so --help is instant

    path = args.image or _default_image()
    if not os.path.isfile(path):
        raise SystemExit(f"--image: no such file: {path}")
    try:
        image = np.asarray(Image.open(path).convert("RGB"))
    except OSError as error:
        raise SystemExit(f"--image: cannot read {path} as an image: {error}") from error

    networks = [name for name, cls in kseg.models.ARCHITECTURES.items() if issubclass(cls, kseg.models.SegmentationModel)]
    if args.model not in networks:
        parser.error(f"argument --model: invalid choice: {args.model!r} (choose from {', '.join(networks)})")
    build = kseg.models.ARCHITECTURES[args.model]
    start = time.perf_counter()
    model = build(num_classes=args.num_classes)
    built = time.perf_counter() - start
    start = time.perf_counter()
    logits = model.predict(image[None].astype("float32"), verbose=0)[0]
    ran = time.perf_counter() - start
    labels = logits.argmax(-1).astype(np.uint8)

    os.makedirs(args.out, exist_ok=True)
    outputs = {
        "labels": os.path.join(args.out, "labels.png"),
        "mask": os.path.join(args.out, "mask.png"),
        "overlay": os.path.join(args.out, "overlay.png"),
    }
    Image.fromarray(labels).save(outputs["labels"])
    Image.fromarray(kseg.visualize.colorize(labels)).save(outputs["mask"])
    Image.fromarray(kseg.visualize.overlay(image, labels)).save(outputs["overlay"])
    report = {
        "model": model.name,
        "parameters": model.count_params(),
        "image": path,
        "image_size": list(image.shape[:2]),
        "output_shape": list(logits.shape),
        "weights": "random (untrained): labels are not meaningful",
        "build_seconds": round(built, 2),
        "inference_seconds": round(ran, 2),
        "written": outputs,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
