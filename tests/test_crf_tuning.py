import numpy as np
import pytest

from kseg.crf_tuning import DEEPLAB_GRID, _refiner, evaluate_crf, grid_search_crf, unrefined_miou
from kseg.testing import realistic_unary


def _samples():
    rng = np.random.RandomState(0)
    image = np.zeros((48, 64, 3), np.uint8)
    image[:, :30] = (220, 60, 40)
    image[:, 30:] = (30, 80, 200)
    image[14:34, 10:50] = (40, 190, 60)
    image = np.clip(image.astype(int) + rng.randint(-12, 12, image.shape), 0, 255).astype(np.uint8)
    logits, labels = realistic_unary(image, num_classes=5, noise=2.0, confuse=0.3, seed=1, return_labels=True)
    return [(logits[None], image[None], labels[None])]


def test_paper_ranges():
    assert DEEPLAB_GRID["bilateral_weight"] == (3.0, 4.0, 5.0, 6.0)
    assert DEEPLAB_GRID["theta_alpha"] == (30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0)
    assert DEEPLAB_GRID["theta_beta"] == (3.0, 4.0, 5.0, 6.0)


def test_coarse_to_fine_search_reports_every_setting_and_the_best():
    samples = _samples()
    grid = {"bilateral_weight": (3.0, 5.0), "theta_alpha": (30.0, 60.0), "theta_beta": (3.0, 6.0)}
    seen = []
    best, results = grid_search_crf(samples, 5, grid=grid, rounds=2, num_iterations=3, callback=seen.append)
    assert len([r for r in results if r["round"] == 1]) == 8
    round2 = [r for r in results if r["round"] == 2]
    assert round2, "the second round refines around the best setting"
    assert len(seen) == len(results)
    assert best == max(results, key=lambda r: r["mean_iou"])
    # Second-round values sit half a step from the first round's best.
    first_best = max((r for r in results if r["round"] == 1), key=lambda r: r["mean_iou"])
    assert {r["theta_alpha"] for r in round2} <= {first_best["theta_alpha"] + d for d in (-15.0, 0.0, 15.0)}
    # The reported mIoU is the CRF's, recomputed independently.
    params = {k: best[k] for k in ("bilateral_weight", "theta_alpha", "theta_beta")}
    again = evaluate_crf(samples, 5, num_iterations=3, spatial_weight=3.0, theta_gamma=3.0, **params)["mean_iou"]
    assert again == pytest.approx(best["mean_iou"])
    assert best["mean_iou"] > unrefined_miou(samples, 5)  # the CRF helps on these noisy unaries
    # One trace for all the settings (their parameters are tensors), not one per setting.
    assert _refiner(3, 3.0, 3.0, "sparse_matmul").experimental_get_tracing_count() == 1


def test_the_searched_refinement_equals_the_layer():
    import tensorflow as tf

    from kseg.layers import DenseCRF

    ((logits, image, _),) = _samples()
    params = dict(bilateral_weight=5.0, theta_alpha=60.0, theta_beta=4.0)
    refine = _refiner(3, 3.0, 3.0, "sparse_matmul")
    got = refine(tf.constant(logits), tf.constant(image, tf.float32), *(tf.constant(v) for v in params.values()))
    want = DenseCRF(num_iterations=3, **params)([logits, image])
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="samples is empty"):
        grid_search_crf([], 5)
    with pytest.raises(ValueError, match="grid is missing"):
        grid_search_crf(_samples(), 5, grid={"theta_alpha": (30,)})
    with pytest.raises(ValueError, match="rounds >= 1"):
        grid_search_crf(_samples(), 5, rounds=0)
