import numpy as np
import pytest

from kseg.visualize import cityscapes_palette, colorize, confusion_matrix_image, overlay, voc_palette


def test_voc_palette_known_colours():
    palette = voc_palette()
    # PASCAL VOC: background black, aeroplane (128,0,0), person (192,128,128), ignore 255 -> (224,224,192).
    assert tuple(palette[0]) == (0, 0, 0)
    assert tuple(palette[1]) == (128, 0, 0)
    assert tuple(palette[15]) == (192, 128, 128)
    assert tuple(palette[255]) == (224, 224, 192)


def test_colorize_and_overlay():
    labels = np.array([[0, 1], [15, 255]])
    rgb = colorize(labels)
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8 and tuple(rgb[0, 1]) == (128, 0, 0)
    blended = overlay(np.full((2, 2, 3), 100, np.uint8), labels, alpha=0.5)
    assert tuple(blended[0, 1]) == (114, 50, 50)
    with pytest.raises(ValueError, match="label map of shape"):
        colorize(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="differ in size"):
        overlay(np.zeros((3, 3, 3)), labels)



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
