"""Every refusal names its image (issue 33, item 1c): data a decoder cannot read is refused
as `images[i]` with its format (kseg/serving/graph.py's request checks)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kseg.serving.graph import Segmenter, segment_encoded
from tests.serving.conftest import encoded

PICTURE = Image.fromarray(np.random.RandomState(0).randint(0, 255, (20, 30, 3), np.uint8))


def _corrupt_png(png):
    at = png.index(b"IDAT") + 20
    return png[:at] + bytes(b ^ 0x5A for b in png[at : at + 30]) + png[at + 30 :]


@pytest.fixture(scope="module")
def serve():
    inputs = keras.Input((None, None, 3))
    segmenter = Segmenter(keras.Model(inputs, keras.layers.Conv2D(3, 1)(inputs)))
    return tf.function(lambda images: segment_encoded(segmenter, images), input_signature=[tf.TensorSpec([None], tf.string)])


GOOD = encoded(PICTURE, "JPEG")
UNDECODABLE = {  # name -> (bytes, what the message says)
    "jpeg_cut_in_its_scan": (GOOD[:-200], r"the JPEG data cannot be decoded \(\d+ bytes: truncated or corrupt\)"),
    "jpeg_cut_before_its_frame_header": (GOOD[: GOOD.index(b"\xff\xc0")], r"a JPEG without a frame header \(\d+ bytes"),
    "png_corrupt": (_corrupt_png(encoded(PICTURE, "PNG")), r"the PNG data cannot be decoded"),
    "png_cut": (encoded(PICTURE, "PNG")[:-300], r"the PNG data cannot be decoded"),
    "gif_cut_in_its_colour_table": (encoded(PICTURE, "GIF")[:300], r"a GIF without an image \(300 bytes"),
    "bmp_cut": (encoded(PICTURE, "BMP")[:900], r"the BMP data cannot be decoded \(900 bytes"),
}


@pytest.mark.parametrize("name", sorted(UNDECODABLE))
def test_an_undecodable_image_is_refused_by_its_index(serve, name):
    data, says = UNDECODABLE[name]
    with pytest.raises(tf.errors.InvalidArgumentError, match=rf"images\[2\]: {says}"):
        serve(tf.constant([GOOD, encoded(PICTURE, "PNG"), data, GOOD]))
    out = serve(tf.constant([GOOD, encoded(PICTURE.resize((12, 10)), "GIF"), encoded(PICTURE, "BMP")]))
    assert out["image_shape"].numpy().tolist() == [[20, 30], [10, 12], [20, 30]]
