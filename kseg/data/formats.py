"""The dataset formats `data.format` names: how each lists its splits, its classes and its
label mapping, in one table."""

import os
from dataclasses import dataclass

from kseg.constants import DATA_FORMATS
from kseg.data.builtin import CLASSES as BUILTIN_CLASSES
from kseg.data.builtin import builtin_root
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
    return BUILTIN_CLASSES, None, lambda split, annotation: voc_pairs(root, split)


def _voc(data):
    return VOC_CLASSES, None, lambda split, annotation: voc_pairs(data["root"], split)


def _cityscapes(data):
    return CITYSCAPES_CLASSES, cityscapes_train_id_table(), lambda split, annotation: cityscapes_pairs(
        data["root"], split, annotation
    )


def _folder(data):
    names = tuple(f"class_{i}" for i in range(data["num_classes"]))
    return names, None, lambda split, annotation: folder_pairs(os.path.join(data["root"], split))


# format -> data section -> (class names, label table, read(split, annotation) -> pairs)
FORMATS = dict(zip(DATA_FORMATS, (_builtin, _voc, _cityscapes, _folder)))  # the names come from kseg.constants


def dataset_splits(data):
    """`DatasetSplits` for a training config's `data` section (`format`, `root`,
    `num_classes`, `train_split`: a split or a list of them whose union is trained on,
    `val_split`, `annotation`). Cityscapes' validation split is always scored on its fine
    labels. Raises `DataError` naming the missing file or the class-count mismatch."""
    names, label_table, read = FORMATS[data["format"]](data)
    if len(names) != data["num_classes"]:
        raise DataError(f"data.num_classes={data['num_classes']} but the {data['format']} dataset has {len(names)} classes")
    splits = data["train_split"] if isinstance(data["train_split"], list) else [data["train_split"]]
    train = [pair for split in splits for pair in read(split, data["annotation"])]
    return DatasetSplits(train, read(data["val_split"], "gtFine"), names, label_table)
