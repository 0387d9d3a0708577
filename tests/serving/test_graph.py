"""Every refusal names its image (issue 33, item 1c): data a decoder cannot read is refused
as `images[i]` with its format (kseg/serving/graph.py's request checks)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kseg.serving.graph import Segmenter, encoded_image_shape, segment_encoded
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



def _whole_file_copies(graph_def):
    """Ops of `graph_def` and of its library's functions (branches, loop bodies) that copy the
    whole input string: a Cast widening a DecodeRaw of the input itself rather than of a
    `Substr` of it (inside a function, the input is an argument, not a node), or, in the
    outer graph, a StringJoin of the input."""
    found = []
    for nodes in [graph_def.node] + [function.node_def for function in graph_def.library.function]:
        by_name = {node.name: node for node in nodes}

        def source(name):
            return by_name.get(name.lstrip("^").split(":")[0])

        for node in nodes:
            sources = [source(name) for name in node.input]
            if node.op == "Cast" and any(s is not None and s.op == "DecodeRaw" and getattr(source(s.input[0]), "op", None)
                                         in (None, "Placeholder", "Identity") for s in sources):
                found.append(node.name)
            if node.op == "StringJoin" and any(s is not None and s.op == "Placeholder" for s in sources):
                found.append(node.name)
    return found


def test_a_header_read_copies_the_file_at_most_once():
    # A 28 MB photo's header read took 250 MB while it walked an int64 copy of the whole file
    # (benchmarks/header_memory.py: 28.6 MB now); every request and record pays it.
    shape = tf.function(lambda data: encoded_image_shape(data, 0), input_signature=[tf.TensorSpec([], tf.string)])
    assert _whole_file_copies(shape.get_concrete_function().graph.as_graph_def()) == []
    assert shape(tf.constant(encoded(PICTURE, "JPEG"))).numpy().tolist() == [20, 30]
