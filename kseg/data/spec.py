"""Which dataset to read, and how: `DatasetSpec`, the one argument kseg.data's readers, the
records writer and the labels metadata take (never a configuration dict).

A training config's `data` section carries these fields under the same names;
`DatasetSpec.from_mapping(config.data)` picks them out (the section's other keys --
crop, batch size, augmentation -- are the pipeline's arguments, not the dataset's).
"""

import dataclasses
from typing import Optional, Union

from kseg.constants import DATA_FORMATS


def _names(value):
    """A split list or class list as a tuple of str; a str stays a str (one split, or a
    file of class names); None stays None."""
    if value is None or isinstance(value, str):
        return value
    return tuple(str(item) for item in value)


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A dataset on disk (any `tf.io.gfile` path for records) and its classes.

    Attributes:
        format: one of `kseg.constants.DATA_FORMATS` (builtin, voc, cityscapes, folder, records).
        root: the dataset folder (builtin: the cache folder, or None for the default one).
        train_split: the split trained on, or a tuple of splits whose union is.
        val_split: the split evaluated.
        annotation: Cityscapes' training labels ("gtFine" or "gtCoarse"); the validation
            split is always read with its fine labels.
        val_limit: None, or only the validation split's first `val_limit` images.
        class_names: None (the format's), a tuple of names, or the path of a text file
            with one name a line.
        num_classes: None (from `class_names` or the format), or the number of classes,
            the ignore label 255 excluded.
        palette: None (the format's colours), a name of `kseg.constants.PALETTE_NAMES`, or
            one (r, g, b) per class.
        label_map: {stored mask value: training id} over the format's own table.
        mask_colours: the masks are colour-coded (RGB), each class in its `palette` colour
            (`kseg.data.colour_masks`); voc and folder formats.
    """

    format: str
    root: Optional[str] = None
    train_split: Union[str, tuple] = "train"
    val_split: str = "val"
    annotation: str = "gtFine"
    val_limit: Optional[int] = None
    class_names: Union[None, str, tuple] = None
    num_classes: Optional[int] = None
    palette: Union[None, str, tuple] = None
    label_map: dict = dataclasses.field(default_factory=dict)
    mask_colours: bool = False

    def __post_init__(self):
        if self.format not in DATA_FORMATS:
            raise ValueError(f"data.format must be one of {list(DATA_FORMATS)}. Received: {self.format!r}")
        set_ = object.__setattr__  # frozen: normalised once, here
        set_(self, "train_split", _names(self.train_split))
        set_(self, "class_names", _names(self.class_names))
        if self.palette is not None and not isinstance(self.palette, str):
            set_(self, "palette", tuple(tuple(int(c) for c in colour) for colour in self.palette))
        set_(self, "label_map", {int(k): int(v) for k, v in dict(self.label_map or {}).items()})

    @classmethod
    def from_mapping(cls, mapping):
        """The spec of the fields `mapping` (e.g. a training config's `data` section) has;
        its other keys are not the dataset's and are left out."""
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in mapping.items() if key in names})

    @property
    def train_splits(self):
        """The training splits as a tuple (one or more)."""
        return (self.train_split,) if isinstance(self.train_split, str) else self.train_split

    @property
    def splits(self):
        """Every split read, each once, the training splits first."""
        return tuple(dict.fromkeys([*self.train_splits, self.val_split]))

    def replace(self, **changes):
        """A copy with `changes`."""
        return dataclasses.replace(self, **changes)


def require_spec(spec, function):
    """`spec`, or a TypeError saying that `function` takes a `DatasetSpec`."""
    if not isinstance(spec, DatasetSpec):
        raise TypeError(
            f"{function} takes a kseg.data.DatasetSpec (DatasetSpec.from_mapping(config.data) for a training "
            f"config's data section). Received: {type(spec).__name__}"
        )
    return spec
