"""Coarse-to-fine grid search of the dense CRF's parameters (DeepLab v2 §4.1.1)."""

import functools
import itertools

import numpy as np
import tensorflow as tf

from kseg.constants import IGNORE_LABEL
from kseg.layers.crf import DenseCRF
from kseg.layers.crf.densecrf import mean_field
from kseg.metrics import ConfusionMatrixMetric

SEARCHED = ("bilateral_weight", "theta_alpha", "theta_beta")

# DeepLab v2 §4.1.1: w2 = 3 and theta_gamma = 3 fixed; first-round ranges in MATLAB notation
# w1 in [3:6], theta_alpha in [30:10:100], theta_beta in [3:6]; 10 mean-field iterations.
DEEPLAB_GRID = {
    "bilateral_weight": (3.0, 4.0, 5.0, 6.0),
    "theta_alpha": tuple(float(a) for a in range(30, 101, 10)),
    "theta_beta": (3.0, 4.0, 5.0, 6.0),
}


def evaluate_crf(samples, num_classes, ignore_label=IGNORE_LABEL, **crf_params):
    """mIoU of DenseCRF-refined predictions over `samples`.

    Args:
        samples: iterable of `(logits (B, H, W, C), image (B, H, W, 3), labels (B, H, W))`;
            a list is best, since it is iterated once per setting.
        num_classes: int.
        ignore_label: int. Defaults to 255.
        **crf_params: DenseCRF arguments.

    Returns:
        The `ConfusionMatrixMetric.scores()` dict.
    """
    crf = DenseCRF(**crf_params)  # checks the arguments, fills in the defaults
    refine = _refiner(crf.num_iterations, crf.theta_gamma, crf.spatial_weight, crf.implementation)
    searched = [tf.constant(getattr(crf, name), tf.float32) for name in SEARCHED]
    metric = ConfusionMatrixMetric(num_classes, ignore_label=ignore_label)
    for logits, image, labels in samples:
        metric.update_state(labels, refine(tf.cast(logits, tf.float32), tf.cast(image, tf.float32), *searched))
    return metric.scores()


@functools.lru_cache(maxsize=4)
def _refiner(num_iterations, theta_gamma, spatial_weight, implementation):
    """DenseCRF with the searched parameters as tensor arguments: traced once per input
    shape for the whole search, not once per setting."""

    @tf.function(reduce_retracing=True)
    def refine(logits, image, bilateral_weight, theta_alpha, theta_beta):
        return mean_field(
            logits,
            image,
            num_iterations,
            theta_alpha=theta_alpha,
            theta_beta=theta_beta,
            theta_gamma=theta_gamma,
            bilateral_weight=bilateral_weight,
            spatial_weight=spatial_weight,
            implementation=implementation,
        )

    return refine


def _refined_axis(values, best):
    """Around the best value: half the first round's step on each side (and the best itself)."""
    values = sorted(values)
    step = (values[1] - values[0]) / 2 if len(values) > 1 else 0.0
    return tuple(sorted({best - step, best, best + step})) if step else (best,)


def grid_search_crf(
    samples,
    num_classes,
    grid=None,
    rounds=2,
    num_iterations=10,
    spatial_weight=3.0,
    theta_gamma=3.0,
    ignore_label=IGNORE_LABEL,
    callback=None,
):
    """Search DenseCRF's (w1, theta_alpha, theta_beta) coarse to fine, as DeepLab v2 does.

    Round 1 evaluates every combination of `grid` (default: the paper's ranges); each later
    round evaluates the best setting so far and its neighbours at half the step. w2 and
    theta_gamma stay fixed (3 and 3 in the paper).

    Args:
        samples: list of `(logits, image, labels)` batches (see `evaluate_crf`), e.g. a
            held-out split of 100 validation images.
        num_classes: int.
        grid: dict with keys "bilateral_weight", "theta_alpha", "theta_beta" mapping to
            sequences of values. Defaults to `DEEPLAB_GRID`.
        rounds: int >= 1. Defaults to 2.
        num_iterations, spatial_weight, theta_gamma: fixed DenseCRF arguments.
        ignore_label: int.
        callback: optional callable(result_dict) called after each setting (progress).

    Returns:
        (best, results): the best result dict and every result dict, each
        `{"bilateral_weight", "theta_alpha", "theta_beta", "round", "mean_iou"}`, sorted by
        mIoU, best first.
    """
    grid = dict(DEEPLAB_GRID if grid is None else grid)
    missing = {"bilateral_weight", "theta_alpha", "theta_beta"} - set(grid)
    if missing:
        raise ValueError(f"grid is missing {sorted(missing)}. Received keys: {sorted(grid)}")
    if int(rounds) < 1:
        raise ValueError(f"Expected rounds >= 1. Received: rounds={rounds}")
    samples = list(samples)
    if not samples:
        raise ValueError("samples is empty: the grid search needs held-out (logits, image, labels) batches")
    names = SEARCHED
    seen, results = set(), []
    axes = [tuple(float(v) for v in grid[name]) for name in names]
    for round_index in range(1, int(rounds) + 1):
        for values in itertools.product(*axes):
            if values in seen or min(values[1:]) <= 0:
                continue
            seen.add(values)
            params = dict(zip(names, values))
            scores = evaluate_crf(
                samples,
                num_classes,
                ignore_label,
                num_iterations=num_iterations,
                spatial_weight=spatial_weight,
                theta_gamma=theta_gamma,
                **params,
            )
            result = {**params, "round": round_index, "mean_iou": scores["mean_iou"]}
            results.append(result)
            if callback is not None:
                callback(result)
        best = max(results, key=lambda r: r["mean_iou"])
        axes = [_refined_axis(axis, best[name]) for axis, name in zip(axes, names)]
    results.sort(key=lambda r: -r["mean_iou"])
    return results[0], results


def unrefined_miou(samples, num_classes, ignore_label=IGNORE_LABEL):
    """mIoU of the unary predictions alone, for comparison with the searched CRF."""
    metric = ConfusionMatrixMetric(num_classes, ignore_label=ignore_label)
    for logits, _, labels in samples:
        metric.update_state(labels, np.asarray(logits))
    return metric.scores()["mean_iou"]
