"""CRF layers: DenseCRF (permutohedral lattice) and ConvCRF."""

from kseg.layers.crf.convcrf import ConvCRF  # noqa: F401
from kseg.layers.crf.densecrf import DenseCRF  # noqa: F401
