"""Dice, Tversky and Lovász-softmax (kseg/losses/overlap.py), class-weighted cross-entropy and
OHEM, each against an independent NumPy implementation (the references the other loss tests
import); the trainer's computed class weights; losses shared between replicas as Keras shares
its own."""

import numpy as np
import pytest
import tensorflow as tf

import kseg
from kseg.data.builtin import SPLITS
from kseg.training.config import load_config
from tests import REPO

NUM_CLASSES = 4


def _batch(seed=0, ignored=True):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (2, 7, 6, NUM_CLASSES)).astype(np.float32)
    labels = rng.integers(0, NUM_CLASSES - 1, (2, 7, 6)).astype(np.int32)  # class 3 absent
    if ignored:
        labels[0, :2] = 255
    return labels, logits


def _softmax(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _numpy_weighted_ce(labels, logits, weights):
    total = norm = 0.0
    for label, row in zip(labels.ravel(), logits.reshape(-1, NUM_CLASSES)):
        if label == 255:
            continue
        total += weights[label] * -np.log(_softmax(row)[label])
        norm += weights[label]
    return total / norm


def _numpy_dice(labels, logits):
    p, terms = _softmax(logits).reshape(-1, NUM_CLASSES), []
    flat = labels.ravel()
    keep = flat != 255
    p, flat = p[keep], flat[keep]
    for c in range(NUM_CLASSES):
        t = (flat == c).astype(float)
        if t.sum() == 0:
            continue
        terms.append(1 - 2 * (p[:, c] * t).sum() / (p[:, c].sum() + t.sum()))
    return np.mean(terms) if terms else 0.0


def _numpy_lovasz(labels, logits):
    """Berman et al.'s lovasz_softmax_flat with classes='present', written out in NumPy."""
    p = _softmax(logits).reshape(-1, NUM_CLASSES)
    flat = labels.ravel()
    keep = flat != 255
    p, flat = p[keep], flat[keep]
    losses = []
    for c in range(NUM_CLASSES):
        fg = (flat == c).astype(float)
        if fg.sum() == 0:
            continue
        errors = np.abs(fg - p[:, c])
        order = np.argsort(-errors, kind="stable")
        errors, fg_sorted = errors[order], fg[order]
        gts = fg_sorted.sum()
        intersection = gts - np.cumsum(fg_sorted)
        union = gts + np.cumsum(1 - fg_sorted)
        jaccard = 1.0 - intersection / union
        jaccard[1:] = jaccard[1:] - jaccard[:-1]
        losses.append(float(np.dot(errors, jaccard)))
    return np.mean(losses) if losses else 0.0


def _numpy_focal(labels, logits, gamma, alpha=None):
    """Lin et al. eq. 5 with softmax probabilities, averaged over the labelled pixels."""
    terms = []
    for label, row in zip(labels.ravel(), logits.reshape(-1, NUM_CLASSES)):
        if label == 255:
            continue
        p = _softmax(row)[label]
        terms.append((1.0 if alpha is None else alpha[label]) * -((1 - p) ** gamma) * np.log(p))
    return np.mean(terms)


def _numpy_tversky(labels, logits, alpha, beta):
    p, flat = _softmax(logits).reshape(-1, NUM_CLASSES), labels.ravel()
    p, flat = p[flat != 255], flat[flat != 255]
    terms = []
    for c in range(NUM_CLASSES):
        t = (flat == c).astype(float)
        if t.sum():
            tp, fp, fn = (p[:, c] * t).sum(), (p[:, c] * (1 - t)).sum(), ((1 - p[:, c]) * t).sum()
            terms.append(1 - tp / (tp + alpha * fp + beta * fn))
    return np.mean(terms)


@pytest.mark.parametrize("seed", [0, 1])
def test_tversky_equals_numpy(seed):
    labels, logits = _batch(seed)
    for alpha, beta in [(0.3, 0.7), (0.5, 0.5), (1.0, 0.0)]:
        loss = kseg.losses.TverskyLoss(alpha=alpha, beta=beta)
        np.testing.assert_allclose(float(loss(labels, logits)), _numpy_tversky(labels, logits, alpha, beta), rtol=1e-5)
    half = kseg.losses.TverskyLoss(alpha=0.5, beta=0.5)  # the Dice loss
    np.testing.assert_allclose(float(half(labels, logits)), _numpy_dice(labels, logits), rtol=1e-5)
    with pytest.raises(ValueError, match="alpha, beta >= 0, not both 0"):
        kseg.losses.TverskyLoss(alpha=0, beta=0)


def test_class_weighted_cross_entropy_is_the_weighted_mean_over_labelled_pixels():
    labels, logits = _batch()
    weights = [0.5, 2.0, 1.0, 3.0]
    loss = kseg.losses.MaskedSparseCategoricalCrossentropy(class_weights=weights)
    np.testing.assert_allclose(float(loss(labels, logits)), _numpy_weighted_ce(labels, logits, weights), rtol=1e-5)
    unweighted = kseg.losses.MaskedSparseCategoricalCrossentropy()
    np.testing.assert_allclose(float(unweighted(labels, logits)), _numpy_weighted_ce(labels, logits, [1] * 4), rtol=1e-5)
    copy = kseg.losses.MaskedSparseCategoricalCrossentropy.from_config(loss.get_config())
    assert copy.class_weights == weights
    with pytest.raises(ValueError, match="one number >= 0 per class, not all 0"):
        kseg.losses.MaskedSparseCategoricalCrossentropy(class_weights=[0, 0])


def test_class_weighted_ohem_weights_the_kept_pixels():
    labels, logits = _batch(1)
    weights = [1.0, 0.25, 4.0, 1.0]
    loss = kseg.losses.OHEMCrossEntropy(threshold=0.7, min_kept=0, class_weights=weights)
    p = _softmax(logits)
    flat, probs = labels.ravel(), p.reshape(-1, NUM_CLASSES)
    keep = [(i, l) for i, l in enumerate(flat) if l != 255 and probs[i, l] < 0.7]
    expected = sum(weights[l] * -np.log(probs[i, l]) for i, l in keep) / sum(weights[l] for _, l in keep)
    np.testing.assert_allclose(float(loss(labels, logits)), expected, rtol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dice_and_lovasz_equal_numpy(seed):
    labels, logits = _batch(seed)
    np.testing.assert_allclose(float(kseg.losses.DiceLoss()(labels, logits)), _numpy_dice(labels, logits), rtol=1e-5)
    np.testing.assert_allclose(float(kseg.losses.LovaszSoftmaxLoss()(labels, logits)), _numpy_lovasz(labels, logits), rtol=1e-5)


def test_overlap_losses_edge_cases_and_gradients():
    labels, logits = _batch()
    everything_ignored = np.full_like(labels, 255)
    for loss in (kseg.losses.DiceLoss(), kseg.losses.LovaszSoftmaxLoss(), kseg.losses.TverskyLoss(), kseg.losses.FocalLoss()):
        assert float(loss(everything_ignored, logits)) == 0.0
        perfect = tf.one_hot(np.where(labels == 255, 0, labels), NUM_CLASSES) * 50.0
        assert float(loss(labels, perfect)) < 1e-6
        variable = tf.Variable(logits)
        with tf.GradientTape() as tape:
            value = loss(labels, variable)
        gradient = tape.gradient(value, variable).numpy()
        assert np.isfinite(gradient).all() and np.abs(gradient).sum() > 0
        assert type(loss).from_config(loss.get_config()).get_config() == loss.get_config()
    jitted = tf.function(kseg.losses.LovaszSoftmaxLoss(), jit_compile=False)
    np.testing.assert_allclose(float(jitted(labels, logits)), _numpy_lovasz(labels, logits), rtol=1e-5)


def test_the_trainer_writes_the_computed_weights_into_the_config(data_root, capsys):
    from kseg.training.runner import _with_class_weights

    loaded = load_config(overrides=[f"data.root={data_root}", "train.class_weights=median_frequency"])
    config = _with_class_weights(loaded)
    assert loaded["train"]["class_weights"] == "median_frequency"  # the loaded config is not changed
    weights = config["train"]["class_weights"]
    assert len(weights) == 5 and all(w > 0 for w in weights)  # what the task, config.yaml and a resume see
    assert f"train.class_weights: median_frequency over {SPLITS['train']} training masks" in capsys.readouterr().out


def test_every_loss_is_shared_between_replicas_as_keras_shares_its_own():
    # Under tf.distribute the strategy sums the replicas' gradients: a loss that returns its
    # own scalar must return this replica's share, as Keras's per-element losses do.
    import json
    import os
    import subprocess
    import sys

    root = REPO
    result = subprocess.run([sys.executable, os.path.join(root, "tests", "losses", "replicated_losses_check.py")], cwd=root,
                            capture_output=True, text=True, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    differences = json.loads(result.stdout.strip().splitlines()[-1])
    assert differences == {name: pytest.approx(0.0, abs=1e-6) for name in differences} and len(differences) == 8
