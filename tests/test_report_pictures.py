"""Report pictures: the labelled confusion matrix and the prediction panels."""

import numpy as np
import pytest

from kseg.report_pictures import ERROR_RGB, IGNORED_RGB, confusion_figure, prediction_panel
from kseg.visualize import confusion_matrix_image, voc_palette

NAMES = ["background", "stripes", "checker"]


def test_confusion_figure_names_the_classes_and_writes_each_cell():
    confusion = np.array([[90, 10, 0], [0, 50, 50], [0, 0, 0]])
    figure = confusion_figure(confusion, NAMES)
    short = confusion_figure(confusion, ["a", "b", "c"])
    assert figure.shape[1] > short.shape[1] and figure.shape[0] > short.shape[0]  # names on both axes take room
    heat = confusion_matrix_image(confusion, cell=42)
    # the heatmap is in the figure, with a value written in every cell: the cells differ from plain colour
    top, left = figure.shape[0] - heat.shape[0] - 30, figure.shape[1] - heat.shape[1] - 8
    cells = figure[top : top + heat.shape[0], left : left + heat.shape[1]].astype(int)
    assert cells.shape == heat.shape and (np.abs(cells - heat) > 60).any(axis=-1).mean() > 0.01
    assert (figure[:20] < 100).any()  # a title above


def test_confusion_figure_wants_one_name_per_class():
    with pytest.raises(ValueError, match="Expected 3 class names"):
        confusion_figure(np.eye(3), ["a", "b"])


def test_prediction_panel_shows_image_truth_prediction_and_errors():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)
    truth = rng.integers(0, 3, (20, 30))
    truth[0] = 255
    prediction = truth.copy()
    prediction[5:8, 5:9] = (truth[5:8, 5:9] + 1) % 3
    prediction[0] = 0
    panel = prediction_panel(image, truth, prediction, NAMES, voc_palette())
    assert panel.shape[1] == 4 * 30 + 12 and panel.shape[0] > 20  # a legend below
    np.testing.assert_array_equal(panel[:20, :30], image)
    truth_rgb = panel[:20, 34:64]
    np.testing.assert_array_equal(truth_rgb[1:], voc_palette()[truth[1:]])
    assert (truth_rgb[0] == IGNORED_RGB).all()
    np.testing.assert_array_equal(panel[:20, 68:98], voc_palette()[prediction])
    errors = panel[:20, 102:132]
    wrong = (errors == ERROR_RGB).all(-1)
    np.testing.assert_array_equal(wrong, (prediction != truth) & (truth != 255))
