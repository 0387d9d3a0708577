import numpy as np
import pytest

from kseg.visualize import cityscapes_palette, confusion_matrix_image


def test_cityscapes_palette():
    palette = cityscapes_palette()
    assert tuple(palette[0]) == (128, 64, 128) and tuple(palette[13]) == (0, 0, 142)
    assert tuple(palette[255]) == (0, 0, 0)


def test_confusion_matrix_image():
    picture = confusion_matrix_image(np.array([[10, 0], [5, 5]]), cell=2)
    assert picture.shape == (4, 4, 3)
    assert tuple(picture[0, 0]) == (8, 48, 107)  # row 0 all on the diagonal: full blue
    assert tuple(picture[0, 2]) == (255, 255, 255)
    with pytest.raises(ValueError, match="square confusion matrix"):
        confusion_matrix_image(np.zeros((2, 3)))
