"""`python -m training.predict`: segment image files with a trained model.

    python -m training.predict --model runs/builtin_pan --images photos/ --out predictions/
    python -m training.predict --model model.keras --images "data/*.jpg" --out out/ --scales 0.75,1.0,1.25 --flip
    python -m training.predict --model runs/pan/serving/pan/300 --images street.png --out out/   # a SavedModel
    python -m training.predict --model runs/pan_cityscapes --images "leftImg8bit/test/*/*.png" --out test/ --label-ids cityscapes

For each image: `<stem>.png`, a palette PNG of the labels at the image's own size, and
`<stem>_overlay.png` (and `<stem>_labelIds.png` with `--label-ids`: the ids a benchmark
server scores, e.g. Cityscapes' labelIds). An unreadable image is reported by name and skipped. Exit status 0
when at least one image was written, 1 when none could be, 2 for bad arguments.
"""

import argparse
import os
import sys

from kseg.output_paths import output_folder
from kseg.remote_inputs import add_model_argument
from training.command import run_as_process
from training.quiet import start_tensorflow

start_tensorflow()  # before anything imports TensorFlow: its start-up log lines held back

from training.common import add_test_time_arguments, resolve_crf, test_time_options  # noqa: E402


def _label_id_table(parser, name, model):
    """The benchmark `name`'s table (`kseg.data.labels.LABEL_ID_TABLES`), refused by name when
    the model's classes (its labels metadata, where it has some) are not that many."""
    from kseg.data.labels import LABEL_ID_TABLES
    from kseg.serving.labels import read_labels

    benchmark = LABEL_ID_TABLES[name]
    names = (read_labels(model) or {}).get("class_names")
    if names is not None and len(names) != len(benchmark.classes):
        parser.error(f"--label-ids {name} maps the {len(benchmark.classes)} {name} train ids ({', '.join(benchmark.classes[:3])}, ...); "
                     f"{model} has {len(names)} classes ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})")
    return benchmark.table()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m training.predict", description=__doc__.split("\n\n")[0])
    add_model_argument(parser, "a training run folder, a .keras file or a SavedModel folder")
    parser.add_argument("--images", required=True, help="a folder, a glob pattern (quoted) or one image file")
    parser.add_argument("--out", required=True, type=output_folder, help="output folder")
    from kseg.data.labels import LABEL_ID_TABLES

    parser.add_argument("--label-ids", choices=sorted(LABEL_ID_TABLES),
                        help="also write <stem>_labelIds.png with the benchmark's label ids (train ids mapped back)")
    add_test_time_arguments(parser)
    args = parser.parse_args(argv)
    options = test_time_options(parser, args)
    crf = resolve_crf(parser, args, args.model)

    from kseg.inference.images import image_paths, load_segmenter, model_palette, predict_files
    from kseg.inference.predict import TestTimeOptionError
    from kseg.layers.crf import make_crf
    from kseg.training.progress import CountProgress

    if crf is not None:
        options["crf"] = make_crf(crf["crf"], **crf["params"])

    try:
        paths = image_paths(args.images)
        segment = load_segmenter(args.model, **options)
        palette = model_palette(args.model)
    except (FileNotFoundError, ValueError, TestTimeOptionError) as error:
        parser.error(str(error))
    label_ids = _label_id_table(parser, args.label_ids, args.model) if args.label_ids else None
    with CountProgress(len(paths), "images segmented") as bar:
        result = predict_files(segment, paths, args.out, palette=palette, label_ids=label_ids,
                               progress=lambda done, total, path: bar.update(done, os.path.basename(path)))
    for path, reason in result["failed"].items():
        print(f"{parser.prog}: skipped {path}: {reason}", file=sys.stderr)
    print(f"{len(result['written'])} of {len(paths)} images segmented -> {args.out}"
          + (f" ({len(result['failed'])} unreadable, skipped)" if result["failed"] else ""))
    return 0 if result["written"] else 1


if __name__ == "__main__":
    run_as_process(main)
