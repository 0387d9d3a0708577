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


def build_crf_for(crf, model):
    """Create the weights of `crf` (a CRF layer or None) for the classes of `model` (a functional
    model of one `(batch, height, width, classes)` output) before a `tf.function` calls it: weights
    created inside a trace make `tf.function` trace the model and the CRF a second time. Does
    nothing for a built layer or a model of unknown classes (the first call then builds it)."""
    shape = getattr(model, "output_shape", None)
    classes = shape[-1] if isinstance(shape, tuple) else None
    if crf is not None and not crf.built and isinstance(classes, int):
        crf.build([(None, None, None, classes), (None, None, None, 3)])
