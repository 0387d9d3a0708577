"""The dataset formats `DatasetSpec.format` names: how each lists its splits, its classes and
its label mapping, in one table."""

import os
from dataclasses import dataclass

from kseg.constants import DATA_FORMATS
from kseg.data.builtin import CLASSES as BUILTIN_CLASSES
from kseg.data.builtin import builtin_root
from kseg.data.palettes import read_palette
from kseg.data.labels import CITYSCAPES_CLASSES, VOC_CLASSES, cityscapes_train_id_table
from kseg.data.sources import DataError, cityscapes_pairs, folder_pairs, voc_pairs
from kseg.data.spec import require_spec


@dataclass
class DatasetSplits:
    """The configured dataset: (image, mask) path pairs per split, class names, and the
    lookup table mapping stored label ids to training ids (None: stored ids are used)."""

    train_pairs: list
    val_pairs: list
    class_names: tuple
    label_table: object = None


def _builtin(spec):
    root = builtin_root(spec.root)
    return None, lambda split, annotation: voc_pairs(root, split)


def _voc(spec):
    return None, lambda split, annotation: voc_pairs(spec.root, split)


def _cityscapes(spec):
    return cityscapes_train_id_table(), lambda split, annotation: cityscapes_pairs(spec.root, split, annotation)


def _folder(spec):
    return None, lambda split, annotation: folder_pairs(os.path.join(spec.root, split))


def _records(spec):
    from kseg.data.records import read_dataset_file, records_split

    contents = read_dataset_file(spec.root)
    return None, lambda splits, annotation: records_split(spec.root, contents, splits)


# format -> DatasetSpec -> (label table, read(split, annotation) -> pairs; records: read(splits, _) -> RecordsSplit)
FORMATS = {"builtin": _builtin, "voc": _voc, "cityscapes": _cityscapes, "folder": _folder, "records": _records}
assert tuple(FORMATS) == DATA_FORMATS, "kseg.constants.DATA_FORMATS names the formats of this table"
# Formats whose label ids are fixed (names may be renamed, not added), and VOC's default names.
FIXED_CLASSES = {"builtin": BUILTIN_CLASSES, "cityscapes": CITYSCAPES_CLASSES}
DEFAULT_CLASSES = {"voc": VOC_CLASSES}


def read_class_names(value):
    """`data.class_names` as a tuple: a list of names, or the path of a text file with one
    name a line (blank lines and lines starting with # are skipped); None stays None."""
    if value is None or isinstance(value, (list, tuple)):
        return None if value is None else tuple(str(name) for name in value)
    try:
        with open(value) as f:
            names = tuple(line.strip() for line in f if line.strip() and not line.lstrip().startswith("#"))
    except OSError as error:
        raise ValueError(f"data.class_names: cannot read {value}: {error.strerror}") from error
    if len(names) < 2:
        raise ValueError(f"data.class_names: {value} must list at least 2 names, one a line; it has {len(names)}")
    return names


def _fixed_classes(spec):
    """(the classes a format fixes or None: any, its palette or None); records: their
    dataset.json's classes and palette."""
    if spec.format != "records":
        return FIXED_CLASSES.get(spec.format), None
    from kseg.data.records import read_dataset_file

    try:
        contents = read_dataset_file(spec.root)
    except DataError as error:
        raise ValueError(str(error)) from None
    return tuple(contents["class_names"]), contents["palette"]


def resolve_classes(spec):
    """`spec` (a `DatasetSpec`) with `class_names` (a tuple) and `num_classes` filled in from
    each other and the format: builtin, cityscapes and records (their dataset.json, whose
    palette also stands in for a None `palette`) have fixed classes; voc defaults to the 21
    VOC classes but takes any list (a VOC-layout dataset of your own classes), as does
    folder. Raises ValueError naming the fields that disagree."""
    given, count = read_class_names(spec.class_names), spec.num_classes
    fixed, fixed_palette = _fixed_classes(spec)
    if given is not None and len(set(given)) != len(given):
        raise ValueError(f"data.class_names has repeated names: {sorted({n for n in given if given.count(n) > 1})}")
    if fixed is not None and given is not None and len(given) != len(fixed):
        raise ValueError(f"data.class_names has {len(given)} names but the {spec.format} dataset has {len(fixed)} classes")
    names = given or fixed
    if names is None:
        default = DEFAULT_CLASSES.get(spec.format)
        names = default if count in (None, len(default or ())) else None
    if names is None:
        if count is None:
            raise ValueError(f"data.format={spec.format} needs data.class_names (a list, or a file with one name a line) or data.num_classes")
        names = tuple(f"class_{i}" for i in range(count))
    if count is not None and count != len(names):
        source = "data.class_names has" if given is not None else f"the {spec.format} dataset has"
        raise ValueError(f"data.num_classes={count} but {source} {len(names)} classes")
    palette = fixed_palette if spec.palette is None else spec.palette
    read_palette(palette, len(names))
    return spec.replace(class_names=tuple(names), num_classes=len(names), palette=palette)


def with_label_map(table, label_map):
    """`table` ((256,) uint8 lookup of stored ids, or None: identity) with `label_map`'s
    {stored value: training id} entries put over it; None when both are empty."""
    if not label_map:
        return table
    import numpy as np

    table = np.arange(256, dtype=np.uint8) if table is None else table.copy()
    for stored, target in label_map.items():
        table[int(stored)] = int(target)
    return table


def format_reader(spec):
    """(label table with `spec.label_map` applied, read(split, annotation)) of the format
    `spec.format` names (`FORMATS`); with `spec.mask_colours`, the table is a
    `kseg.data.colour_masks.ColourLabels` of the spec's palette (a resolved spec)."""
    table, read = FORMATS[spec.format](spec)
    table = with_label_map(table, spec.label_map)
    if spec.mask_colours:
        from kseg.data.colour_masks import ColourLabels
        from kseg.data.palettes import dataset_palette

        table = ColourLabels(dataset_palette(spec), spec.num_classes, table)
    return table, read


def dataset_splits(spec, training=True):
    """`DatasetSplits` of a `DatasetSpec`: the union of its training splits (none read when
    `training` is False: an evaluation needs only the validation split, which may be all a
    dataset folder holds), the validation split (its first `val_limit` images, when set), the
    class names and the label table. Cityscapes' validation split is always scored on its
    fine labels. Raises `DataError` naming the missing file or the class-count mismatch."""
    try:
        spec = resolve_classes(require_spec(spec, "dataset_splits"))
    except ValueError as error:
        raise DataError(str(error)) from None
    label_table, read = format_reader(spec)
    if not training:
        train = []
    elif spec.format == "records":  # one RecordsSplit of their shards, not a list of pairs
        train = read(spec.train_splits, spec.annotation)
    else:
        train = [pair for split in spec.train_splits for pair in read(split, spec.annotation)]
    val = read(spec.val_split, "gtFine")[: spec.val_limit]
    return DatasetSplits(train, val, spec.class_names, label_table)
