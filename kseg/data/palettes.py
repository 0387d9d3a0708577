"""Label colours: `data.palette` and the formats' default palettes.

A palette is (256, 3) uint8: entry i colours class i in every picture kseg writes (palette
PNGs of labels, overlays, panels, the confusion figure's legend) and travels with exported
models in their labels metadata (`kseg.serving.labels`). 255, the ignore label, stays the
default palette's colour.
"""

import numpy as np

from kseg import visualize
from kseg.constants import PALETTE_NAMES

# The palette a format's pictures use when data.palette is null.
FORMAT_PALETTES = {"cityscapes": "cityscapes"}


def named_palette(name):
    """(256, 3) uint8 palette `name` (one of PALETTE_NAMES)."""
    return visualize.cityscapes_palette() if name == "cityscapes" else visualize.voc_palette()


def read_palette(value, num_classes, key="data.palette"):
    """`value` -- null, a name of PALETTE_NAMES, or one [r, g, b] (0-255) per class -- as a
    (256, 3) uint8 palette; listed colours replace the first entries of the VOC palette.
    Raises ValueError naming `key` when the colours do not match `num_classes`."""
    if value is None or isinstance(value, str):
        if value is not None and value not in PALETTE_NAMES:
            raise ValueError(f"{key} must be one of {list(PALETTE_NAMES)} or a list of [r, g, b]. Received: {value!r}")
        return named_palette(value or "voc")
    colours = np.asarray(value)
    if colours.shape != (num_classes, 3):
        raise ValueError(f"{key} lists {len(value)} colours but there are {num_classes} classes (one [r, g, b] each)")
    palette = visualize.voc_palette()
    palette[:num_classes] = colours
    return palette


def dataset_palette(spec):
    """The (256, 3) uint8 palette of a resolved `DatasetSpec` (its `palette`, else its
    format's; one colour per class of `class_names`)."""
    value = spec.palette
    if value is None:
        value = FORMAT_PALETTES.get(spec.format, "voc")
    return read_palette(value, len(spec.class_names))
