"""`kseg.inference.refine`: a CRF over one image or a batch, equal to the layer it wraps."""

import numpy as np
import pytest

from kseg.inference import refine
from kseg.layers import ConvCRF, DenseCRF


def _inputs(seed=0):
    rng = np.random.RandomState(seed)
    return rng.randn(2, 16, 20, 4).astype("float32"), rng.randint(0, 255, (2, 16, 20, 3)).astype("uint8")


@pytest.mark.parametrize("crf, layer", [("dense", DenseCRF), ("conv", ConvCRF)])
def test_refine_equals_the_layer(crf, layer):
    logits, image = _inputs()
    expected = layer(num_iterations=3)([logits, image]).numpy()
    np.testing.assert_allclose(refine(logits, image, crf=crf, num_iterations=3).numpy(), expected, atol=1e-6)
    single = refine(logits[0], image[0], crf=crf, num_iterations=3).numpy()
    assert single.shape == (16, 20, 4)
    np.testing.assert_allclose(single, expected[0], atol=1e-5)


def test_refine_bad_arguments():
    logits, image = _inputs()
    with pytest.raises(ValueError, match=r"Unknown crf 'grabcut'. Expected one of \['conv', 'dense'\]"):
        refine(logits, image, crf="grabcut")
    with pytest.raises(ValueError, match="Expected logits"):
        refine(logits[0, 0], image[0, 0])
    with pytest.raises(ValueError, match="num_iterations >= 1"):
        refine(logits, image, num_iterations=0)
