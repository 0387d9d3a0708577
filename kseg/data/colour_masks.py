"""Colour-coded masks (`data.mask_colours: true`): each pixel of a mask is the `data.palette`
colour of its class, as CamVid and the RGB exports of labelling tools store them. They are
read as class indices where an index mask would be (`kseg.data.decode.read_mask`), so the
file pipeline, the records writer, class weights and every check see indices."""

import numpy as np

from kseg.constants import IGNORE_LABEL
from kseg.data.sources import DataError


def _keys(rgb):
    """(..., 3) uint8 colours as (...) int32 keys r << 16 | g << 8 | b."""
    rgb = np.asarray(rgb, np.int32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def _shown(key):
    return f"({key >> 16}, {(key >> 8) & 255}, {key & 255})"


class ColourLabels:
    """RGB masks to class indices: colour `palette[c]` is class c (c < `num_classes`),
    `palette[255]` is the ignore label 255 (VOC's void colour unless the palette sets it),
    then `table` ((256,) uint8, e.g. `data.label_map`'s) if given. A colour of no class is a
    `DataError` naming the file and the colours.

    Args:
        palette: (256, 3) uint8 (`kseg.data.palettes.dataset_palette`).
        num_classes: int.
        table: None or (256,) uint8 lookup applied to the class indices.
    """

    def __init__(self, palette, num_classes, table=None):
        palette = np.asarray(palette, np.uint8)
        keys = _keys(np.concatenate([palette[:num_classes], palette[IGNORE_LABEL:IGNORE_LABEL + 1]]))
        if len(set(keys.tolist())) < len(keys):
            raise ValueError("data.palette gives two classes (or a class and the ignore label 255) one colour: "
                             "data.mask_colours needs a colour of its own for each")
        order = np.argsort(keys)
        self.keys = keys[order]
        self.ids = np.append(np.arange(num_classes), IGNORE_LABEL).astype(np.uint8)[order]
        self.table = table

    def labels(self, rgb, path):
        """(H, W) uint8 class indices of the (H, W, 3) uint8 colour mask `rgb` read from `path`."""
        keys = _keys(rgb)
        position = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        known = self.keys[position] == keys
        if not known.all():
            strange = np.unique(keys[~known])
            listed = ", ".join(_shown(int(k)) for k in strange[:3]) + (", ..." if len(strange) > 3 else "")
            raise DataError(f"{path}: {int((~known).sum())} pixels of colours no class has in data.palette: {listed}")
        ids = self.ids[position]
        return ids if self.table is None else self.table[ids]
