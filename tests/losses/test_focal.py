"""The focal loss (kseg/losses/focal.py; Lin et al. eq. 5, softmax form, alpha per class)
against NumPy, averaged over the labelled pixels; gamma 0 without alpha is the cross-entropy."""

import numpy as np
import pytest

import kseg
from tests.losses.test_overlap import _batch, _numpy_focal, _numpy_weighted_ce


@pytest.mark.parametrize("seed", [0, 1])
def test_focal_equals_numpy(seed):
    labels, logits = _batch(seed)
    for gamma, alpha in [(2.0, None), (0.5, [0.25, 1.0, 2.0, 1.0]), (0.0, None)]:
        loss = kseg.losses.FocalLoss(gamma=gamma, alpha=alpha)
        np.testing.assert_allclose(float(loss(labels, logits)), _numpy_focal(labels, logits, gamma, alpha), rtol=1e-5)
    plain = kseg.losses.FocalLoss(gamma=0.0)  # gamma 0, no alpha: the cross-entropy
    np.testing.assert_allclose(float(plain(labels, logits)), _numpy_weighted_ce(labels, logits, [1] * 4), rtol=1e-5)


def test_bad_arguments_are_named():
    for bad, message in [(dict(gamma=-1), "gamma >= 0"), (dict(alpha=[-1, 1]), "one number >= 0 per class")]:
        with pytest.raises(ValueError, match=message):
            kseg.losses.FocalLoss(**bad)
