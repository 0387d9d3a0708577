"""Input pipelines: dataset layouts, checked decoding, augmentation, the built-in dataset."""

from kseg.data.augment import augment  # noqa: F401
from kseg.data.builtin import CLASSES as BUILTIN_CLASSES  # noqa: F401
from kseg.data.builtin import builtin_root, ensure_builtin_dataset  # noqa: F401
from kseg.data.class_weights import class_weights_from_labels, label_statistics  # noqa: F401
from kseg.data.decode import BadExamples, named_data_errors, pending_data_error, read_mask, read_pair  # noqa: F401
from kseg.data.formats import FORMATS, DatasetSplits, dataset_splits  # noqa: F401
from kseg.data.labels import (  # noqa: F401
    CITYSCAPES_CLASSES,
    IGNORE_LABEL,
    VOC_CLASSES,
    cityscapes_train_id_table,
)
from kseg.data.photometric import Photometric, photometric_distortion  # noqa: F401
from kseg.data.pipeline import segmentation_dataset  # noqa: F401
from kseg.data.records import RecordsSplit  # noqa: F401
from kseg.data.records_writer import write_records  # noqa: F401
from kseg.data.sources import DataError, cityscapes_pairs, folder_pairs, voc_pairs  # noqa: F401
from kseg.data.spec import DatasetSpec  # noqa: F401

__all__ = [
    "augment",
    "BadExamples",
    "BUILTIN_CLASSES",
    "builtin_root",
    "CITYSCAPES_CLASSES",
    "cityscapes_pairs",
    "cityscapes_train_id_table",
    "class_weights_from_labels",
    "DataError",
    "dataset_splits",
    "DatasetSpec",
    "DatasetSplits",
    "ensure_builtin_dataset",
    "folder_pairs",
    "FORMATS",
    "IGNORE_LABEL",
    "label_statistics",
    "named_data_errors",
    "pending_data_error",
    "Photometric",
    "photometric_distortion",
    "read_mask",
    "read_pair",
    "RecordsSplit",
    "segmentation_dataset",
    "VOC_CLASSES",
    "voc_pairs",
    "write_records",
]
