"""The CRF layers by the names users give them (kseg/layers/crf/__init__.py)."""

import pytest

from kseg.constants import CRF_NAMES
from kseg.layers.crf import CRF_LAYERS, ConvCRF, DenseCRF, make_crf


def test_each_name_makes_its_layer_with_the_given_parameters():
    assert tuple(CRF_LAYERS) == CRF_NAMES
    dense = make_crf("dense", num_iterations=3, theta_alpha=50.0)
    assert type(dense) is DenseCRF and dense.num_iterations == 3 and dense.get_config()["theta_alpha"] == 50.0
    assert type(make_crf("conv", num_iterations=2)) is ConvCRF
    with pytest.raises(ValueError, match=r"Unknown crf 'grabcut'. Expected one of \['conv', 'dense'\]"):
        make_crf("grabcut")
