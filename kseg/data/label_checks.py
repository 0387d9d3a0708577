"""Masks that would train on nothing but background: binary masks saved as 0/255, whose
foreground is the ignore label."""

import numpy as np

from kseg.constants import IGNORE_LABEL
from kseg.data.decode import read_mask

SAMPLED_MASKS = 32  # masks read to recognise a 0/255 dataset (the first of the split)


def refuse_foreground_ignored(pairs, label_table, where):
    """Raise a `DataError` when the first `SAMPLED_MASKS` masks of `pairs` (after
    `label_table`) hold only 0 and 255, 255 at least once: with 255 the ignore label, such a
    split (binary masks saved as 0/255) trains on background alone. `where` names the split."""
    from kseg.data.sources import DataError

    sample = list(pairs[:SAMPLED_MASKS])
    seen = set()
    for _, mask_path in sample:
        seen.update(np.unique(read_mask(mask_path, label_table)).tolist())
        if seen - {0, IGNORE_LABEL}:
            return
    if IGNORE_LABEL in seen:
        raise DataError(
            f"{where}: its masks hold only 0 and {IGNORE_LABEL} (the first {len(sample)} read, e.g. {sample[0][1]}); "
            f"{IGNORE_LABEL} is the ignore label, so training would see background alone. If {IGNORE_LABEL} marks your "
            f"objects, map it: --set 'data.label_map={{{IGNORE_LABEL}: 1}}' --set data.num_classes=2"
        )
