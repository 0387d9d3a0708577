"""The dataset formats `data.format` names: how each lists its splits, its classes and its
label mapping, in one table."""

import os
from dataclasses import dataclass

from kseg.constants import DATA_FORMATS
from kseg.data.builtin import CLASSES as BUILTIN_CLASSES
from kseg.data.builtin import builtin_root
from kseg.data.palettes import read_palette
from kseg.data.labels import CITYSCAPES_CLASSES, VOC_CLASSES, cityscapes_train_id_table
from kseg.data.sources import DataError, cityscapes_pairs, folder_pairs, voc_pairs


@dataclass
class DatasetSplits:
    """The configured dataset: (image, mask) path pairs per split, class names, and the
    lookup table mapping stored label ids to training ids (None: stored ids are used)."""

    train_pairs: list
    val_pairs: list
    class_names: tuple
    label_table: object = None


def _builtin(data):
    root = builtin_root(data["root"])
    return None, lambda split, annotation: voc_pairs(root, split)


def _voc(data):
    return None, lambda split, annotation: voc_pairs(data["root"], split)


def _cityscapes(data):
    return cityscapes_train_id_table(), lambda split, annotation: cityscapes_pairs(data["root"], split, annotation)


def _folder(data):
    return None, lambda split, annotation: folder_pairs(os.path.join(data["root"], split))


def _records(data):
    from kseg.data.records import read_dataset_file, records_split

    contents = read_dataset_file(data["root"])
    return None, lambda split, annotation: records_split(data["root"], contents, split)


# format -> data section -> (label table, read(split, annotation) -> pairs, or a RecordsSplit)
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


def _fixed_classes(data):
    """The classes a format fixes (None: any); records: their dataset.json's, whose palette
    also becomes `data.palette` when that is null."""
    if data["format"] != "records":
        return FIXED_CLASSES.get(data["format"])
    from kseg.data.records import read_dataset_file

    try:
        contents = read_dataset_file(data["root"])
    except DataError as error:
        raise ValueError(str(error)) from None
    if data.get("palette") is None:
        data["palette"] = contents["palette"]
    return tuple(contents["class_names"])


def resolve_classes(data):
    """Fill in `data.class_names` and `data.num_classes` (in place) from each other and the
    format: builtin, cityscapes and records (their dataset.json) have fixed classes; voc
    defaults to the 21 VOC classes but takes any list (a VOC-layout dataset of your own
    classes), as does folder. Returns `data`; raises ValueError naming the keys that disagree."""
    given, fixed, count = read_class_names(data["class_names"]), _fixed_classes(data), data["num_classes"]
    if given is not None and len(set(given)) != len(given):
        raise ValueError(f"data.class_names has repeated names: {sorted({n for n in given if given.count(n) > 1})}")
    if fixed is not None and given is not None and len(given) != len(fixed):
        raise ValueError(f"data.class_names has {len(given)} names but the {data['format']} dataset has {len(fixed)} classes")
    names = given or fixed
    if names is None:
        default = DEFAULT_CLASSES.get(data["format"])
        names = default if count in (None, len(default or ())) else None
    if names is None:
        if count is None:
            raise ValueError(f"data.format={data['format']} needs data.class_names (a list, or a file with one name a line) or data.num_classes")
        names = tuple(f"class_{i}" for i in range(count))
    if count is not None and count != len(names):
        source = "data.class_names has" if given is not None else f"the {data['format']} dataset has"
        raise ValueError(f"data.num_classes={count} but {source} {len(names)} classes")
    data["num_classes"], data["class_names"] = len(names), list(names)
    read_palette(data.get("palette"), len(names))
    return data


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


def format_reader(data):
    """(label table with `data.label_map` applied, read(split, annotation)) of the format
    `data.format` names (`FORMATS`)."""
    table, read = FORMATS[data["format"]](data)
    return with_label_map(table, data.get("label_map")), read


def dataset_splits(data):
    """`DatasetSplits` for a training config's `data` section (`format`, `root`,
    `num_classes`, `train_split`: a split or a list of them whose union is trained on,
    `val_split`, `annotation`, `val_limit`: only the validation split's first images, when
    set). Cityscapes' validation split is always scored on its fine labels. Raises
    `DataError` naming the missing file or the class-count mismatch."""
    try:
        data = resolve_classes(dict(data, class_names=data.get("class_names")))
    except ValueError as error:
        raise DataError(str(error)) from None
    label_table, read = format_reader(data)
    splits = data["train_split"] if isinstance(data["train_split"], list) else [data["train_split"]]
    if data["format"] == "records":  # one RecordsSplit of their shards, not a list of pairs
        train = read(data["train_split"], data["annotation"])
    else:
        train = [pair for split in splits for pair in read(split, data["annotation"])]
    val = read(data["val_split"], "gtFine")[: data.get("val_limit")]
    return DatasetSplits(train, val, tuple(data["class_names"]), label_table)
