"""CRF layers: DenseCRF (permutohedral lattice) and ConvCRF, by the names users give them."""

from kseg.constants import CRF_NAMES
from kseg.layers.crf.convcrf import ConvCRF  # noqa: F401
from kseg.layers.crf.densecrf import DenseCRF  # noqa: F401

CRF_LAYERS = {"dense": DenseCRF, "conv": ConvCRF}
assert tuple(CRF_LAYERS) == CRF_NAMES, "kseg.constants.CRF_NAMES lists these layers' names"


def make_crf(name, **params):
    """The CRF layer called `name` ("dense" or "conv") with constructor `params`."""
    if name not in CRF_LAYERS:
        raise ValueError(f"Unknown crf {name!r}. Expected one of {sorted(CRF_NAMES)}.")
    return CRF_LAYERS[name](**params)
