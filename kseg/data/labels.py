"""Label sets of the supported datasets."""

import collections

import numpy as np

from kseg.constants import IGNORE_LABEL  # noqa: F401  (re-exported)

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)

CITYSCAPES_CLASSES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
    "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
)

# Cityscapes labelIds (0-33, -1 for license plate) -> the 19 train ids; everything else 255
# (cityscapesScripts, helpers/labels.py).
_CITYSCAPES_ID_TO_TRAIN_ID = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
    26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}


def cityscapes_label_id_table():
    """(256,) uint8 lookup table from train id back to labelId, what the Cityscapes benchmark
    scores (`*_labelIds.png`); train ids without a class (255) become 0, "unlabeled"."""
    table = np.zeros(256, np.uint8)
    for label_id, train_id in _CITYSCAPES_ID_TO_TRAIN_ID.items():
        table[train_id] = label_id
    return table


LabelIds = collections.namedtuple("LabelIds", ["classes", "table"])
LabelIds.__doc__ = """A benchmark's label ids: the classes its train ids stand for (in train-id
order) and a function returning the (256,) uint8 table from train id to the id it scores."""

# `training.predict --label-ids NAME`: train ids -> the ids a benchmark's server scores
LABEL_ID_TABLES = {"cityscapes": LabelIds(CITYSCAPES_CLASSES, cityscapes_label_id_table)}


def cityscapes_train_id_table():
    """(256,) uint8 lookup table from labelId to train id (255 for ignored ids)."""
    table = np.full(256, IGNORE_LABEL, np.uint8)
    for label_id, train_id in _CITYSCAPES_ID_TO_TRAIN_ID.items():
        table[label_id] = train_id
    return table
