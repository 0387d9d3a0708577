"""The CRF layers' shared argument and shape checks: each bad input is one error naming it."""

import numpy as np
import pytest
import tensorflow as tf

from kseg.layers.crf.common import assert_same_spatial_size, check_crf_input_shapes, check_iterations, check_positive


def test_classes_come_from_the_logits_and_unknown_sizes_pass():
    assert check_crf_input_shapes("DenseCRF", [(None, None, None, 21), (None, None, None, 3)]) == 21
    assert check_crf_input_shapes("DenseCRF", [(2, 8, 9, 2), (2, 8, 9, 3)]) == 2


@pytest.mark.parametrize(
    "shapes, message",
    [
        ((None, 8, 8, 3), r"ConvCRF is called on \[logits, image\]"),
        ([(8, 8, 3), (1, 8, 8, 3)], r"ConvCRF expects logits \(B, H, W, C\) and image \(B, H, W, 3\)"),
        ([(1, 8, 8, 3), (1, 8, 8, 1)], "expects an RGB image with 3 channels"),
        ([(1, 8, 8, None), (1, 8, 8, 3)], "a known number of classes >= 2"),
        ([(1, 8, 8, 1), (1, 8, 8, 3)], "a known number of classes >= 2"),
        ([(1, 8, 8, 3), (1, 8, 9, 3)], r"ConvCRF: logits and image differ in width \(8 vs 9\)"),
        ([(1, 7, 8, 3), (1, 8, 8, 3)], r"differ in height \(7 vs 8\)"),
    ],
)
def test_bad_shapes_are_named(shapes, message):
    with pytest.raises(ValueError, match=message):
        check_crf_input_shapes("ConvCRF", shapes)


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "5"])
def test_iterations_are_positive_integers(value):
    with pytest.raises(ValueError, match=f"num_iterations >= 1. Received: num_iterations={value!r}"):
        check_iterations(value)


def test_positive_values_name_the_argument():
    check_positive(theta_alpha=80.0, w1=1)
    with pytest.raises(ValueError, match=r"Expected theta_beta > 0. Received: theta_beta=0"):
        check_positive(theta_alpha=80.0, theta_beta=0)


def test_the_run_time_check_compares_height_and_width_only():
    logits = np.zeros((1, 4, 5, 2), "float32")
    assert_same_spatial_size("ConvCRF", logits, np.zeros((2, 4, 5, 3), "float32"))
    with pytest.raises(tf.errors.InvalidArgumentError, match="ConvCRF: logits and image must have the same height and width"):
        assert_same_spatial_size("ConvCRF", logits, np.zeros((1, 4, 6, 3), "float32"))
