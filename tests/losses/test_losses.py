import json

import keras
import numpy as np
import pytest

from kseg.losses import MaskedSparseCategoricalCrossentropy, OHEMCrossEntropy


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _data(seed=0, shape=(2, 6, 7), classes=4):
    rng = np.random.RandomState(seed)
    logits = rng.randn(*shape, classes).astype("float32") * 2
    labels = rng.randint(0, classes, shape)
    labels[rng.rand(*shape) < 0.2] = 255
    return labels, logits


def _numpy_ce(labels, logits, ignore=255):
    lp = _log_softmax(logits.astype(np.float64))
    valid = labels != ignore
    picked = np.take_along_axis(lp, np.where(valid, labels, 0)[..., None], -1)[..., 0]
    return -(picked * valid).sum() / valid.sum()


def test_masked_cross_entropy_matches_numpy():
    labels, logits = _data()
    loss = MaskedSparseCategoricalCrossentropy()
    np.testing.assert_allclose(float(loss(labels, logits)), _numpy_ce(labels, logits), rtol=1e-5)
    # (B, H, W, 1) labels too
    np.testing.assert_allclose(float(loss(labels[..., None], logits)), _numpy_ce(labels, logits), rtol=1e-5)


def test_masked_cross_entropy_other_ignore_label_and_config():
    labels, logits = _data(1)
    labels[labels == 255] = 0
    labels[0, 0] = 3
    loss = MaskedSparseCategoricalCrossentropy(ignore_label=3)
    np.testing.assert_allclose(float(loss(labels, logits)), _numpy_ce(labels, logits, ignore=3), rtol=1e-5)
    config = json.loads(json.dumps(loss.get_config()))
    assert config["ignore_label"] == 3 and config["from_logits"] is True
    clone = MaskedSparseCategoricalCrossentropy.from_config(config)
    assert float(clone(labels, logits)) == pytest.approx(float(loss(labels, logits)))


def _numpy_ohem(labels, logits, t, min_kept, ignore=255):
    lp = _log_softmax(logits.astype(np.float64)).reshape(-1, logits.shape[-1])
    y = labels.reshape(-1)
    valid = y != ignore
    lp, y = lp[valid], y[valid]
    true_lp = lp[np.arange(len(y)), y]
    p = np.exp(true_lp)
    keep = p < t
    k = min(min_kept, len(p))
    if k > 0:
        keep |= p <= np.sort(p)[k - 1]
    return -(true_lp[keep]).sum() / max(keep.sum(), 1)


@pytest.mark.parametrize("min_kept", [0, 5, 40, 10_000])
def test_ohem_matches_numpy(min_kept):
    labels, logits = _data(2)
    loss = OHEMCrossEntropy(threshold=0.6, min_kept=min_kept)
    np.testing.assert_allclose(float(loss(labels, logits)), _numpy_ohem(labels, logits, 0.6, min_kept), rtol=1e-5)


def test_ohem_keeps_only_hard_pixels():
    # Two pixels: one easy (p_true ~ 1), one hard (p_true ~ 0.27): only the hard one counts.
    logits = np.array([[[[10.0, 0.0], [0.0, 1.0]]]], "float32")  # (1, 1, 2, 2)
    labels = np.array([[[0, 0]]])
    hard = -_log_softmax(np.array([0.0, 1.0]))[0]
    assert float(OHEMCrossEntropy(min_kept=0)(labels, logits)) == pytest.approx(hard, rel=1e-5)
    # The floor brings the easy pixel back in.
    easy = -_log_softmax(np.array([10.0, 0.0]))[0]
    assert float(OHEMCrossEntropy(min_kept=2)(labels, logits)) == pytest.approx((hard + easy) / 2, rel=1e-5)


def test_ohem_all_ignored_is_zero_not_nan():
    logits = np.random.rand(1, 3, 3, 4).astype("float32")
    assert float(OHEMCrossEntropy()(np.full((1, 3, 3), 255), logits)) == 0.0


def test_ohem_default_threshold_is_the_papers_and_config_round_trips():
    loss = OHEMCrossEntropy()
    assert loss.threshold == 0.6
    clone = OHEMCrossEntropy.from_config(json.loads(json.dumps(loss.get_config())))
    assert clone.get_config() == loss.get_config()


def test_ohem_under_jit_and_in_fit():
    inputs = keras.Input((5, 5, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 1)(inputs))
    model.compile(optimizer="sgd", loss=OHEMCrossEntropy(min_kept=3), jit_compile=False)
    labels = np.random.randint(0, 4, (2, 5, 5))
    history = model.fit(np.random.rand(2, 5, 5, 3).astype("float32"), labels, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("kwargs, message", [({"threshold": 0.0}, "threshold"), ({"min_kept": -1}, "min_kept")])
def test_ohem_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        OHEMCrossEntropy(**kwargs)
