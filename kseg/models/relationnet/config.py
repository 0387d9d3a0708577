"""The `relation` config section: what RelationNet reads beyond the common sections (the
Spatial Correlation Loss weight, shifted testing). Loads no TensorFlow: the schema reads it."""

import dataclasses

from kseg.training.checks import entry, integer, non_negative, optional

SHORTHANDS = {"scl_weight": "relation.scl_weight"}  # --set scl_weight=0.2, for sweeps


@dataclasses.dataclass
class RelationSection:
    scl_weight: float = entry(0.1, non_negative, "lambda of the Spatial Correlation Loss (eq. 2); 0: no similarity subnet")
    shifted_steps: int = entry(None, optional(integer(low=1)), "evaluate with shifted multi-step testing (§II-C): 1, 2, 4 or 8")


SECTIONS = {"relation": RelationSection}  # read by kseg.training.schema
