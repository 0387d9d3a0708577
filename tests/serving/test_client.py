import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kseg.serving.client import (
    ServingError,
    grpc_request,
    mask_png,
    parse_grpc_response,
    parse_rest_response,
    predict_rest,
    rest_request,
    rest_url,
)
from kseg.visualize import voc_palette
from tests.serving.conftest import photo

# With test_saved_model.py on one xdist worker: the `exported` session fixture is exported once.
pytestmark = pytest.mark.xdist_group("serving_export")


def test_rest_request_and_url():
    body = rest_request([b"\xff\xd8abc", b"\x89PNG"])
    assert body == {
        "signature_name": "serving_default",
        "inputs": {"images": [{"b64": base64.b64encode(b"\xff\xd8abc").decode()}, {"b64": "iVBORw=="}]},
    }
    json.dumps(body)
    assert rest_url("http://h:8501/", "pan") == "http://h:8501/v1/models/pan:predict"
    assert rest_url("http://h:8501", "pan", 3) == "http://h:8501/v1/models/pan/versions/3:predict"


def test_parse_rest_response_crops_the_padding():
    labels = np.full((2, 3, 4), 255)
    labels[0, :2, :3] = [[0, 1, 2], [3, 4, 0]]
    labels[1] = 1
    columnar = {"outputs": {"labels": labels.tolist(), "image_shape": [[2, 3], [3, 4]], "probabilities": []}}
    first, second = parse_rest_response(columnar)
    np.testing.assert_array_equal(first, [[0, 1, 2], [3, 4, 0]])
    assert second.shape == (3, 4) and first.dtype == np.int32
    rows = {"predictions": [{"labels": labels[0].tolist(), "image_shape": [2, 3]}]}
    np.testing.assert_array_equal(parse_rest_response(rows)[0], first)
    with pytest.raises(ServingError, match="server error: Unknown image file format"):
        parse_rest_response({"error": "Unknown image file format"})
    with pytest.raises(ServingError, match=r"expected outputs 'labels' and 'image_shape'. Received keys: \['scores'\]"):
        parse_rest_response({"outputs": {"scores": []}})


def test_grpc_request_and_response():
    from tensorflow_serving.apis import predict_pb2

    request = grpc_request([b"one", b"two"], "pan", version=2)
    assert request.model_spec.name == "pan" and request.model_spec.signature_name == "serving_default"
    assert request.model_spec.version.value == 2
    assert request.inputs["images"].dtype == tf.string.as_datatype_enum
    assert list(request.inputs["images"].string_val) == [b"one", b"two"]
    assert [d.size for d in request.inputs["images"].tensor_shape.dim] == [2]
    predict_pb2.PredictRequest.FromString(request.SerializeToString())  # a well-formed proto

    response = predict_pb2.PredictResponse()
    labels = np.array([[[1, 2, 255]], [[3, 3, 3]]], np.int32)
    response.outputs["labels"].CopyFrom(tf.make_tensor_proto(labels))
    response.outputs["image_shape"].CopyFrom(tf.make_tensor_proto(np.array([[1, 2], [1, 3]], np.int32)))
    first, second = parse_grpc_response(response)
    np.testing.assert_array_equal(first, [[1, 2]])
    np.testing.assert_array_equal(second, [[3, 3, 3]])
    with pytest.raises(ServingError, match=r"lacks outputs \['image_shape', 'labels'\]"):
        parse_grpc_response(predict_pb2.PredictResponse())


def test_mask_png_keeps_indices_and_voc_colours():
    labels = np.array([[0, 1], [15, 255]])
    image = Image.open(io.BytesIO(mask_png(labels)))
    assert image.mode == "P"
    np.testing.assert_array_equal(np.array(image), labels)
    np.testing.assert_array_equal(np.array(image.convert("RGB"))[1, 0], voc_palette()[15])
    with pytest.raises(ValueError, match="Expected a \\(H, W\\) label map"):
        mask_png(np.zeros((2, 2, 2)))


class _FakeTFServing(BaseHTTPRequestHandler):
    """TF Serving's REST predict API in front of a loaded SavedModel signature."""

    signature = None

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if not self.path.endswith("/v1/models/pan:predict"):
            return self._reply(404, {"error": f"Servable not found for request: {self.path}"})
        images = [base64.b64decode(item["b64"]) for item in body["inputs"]["images"]]
        try:
            out = self.signature(images=tf.constant(images))
        except tf.errors.InvalidArgumentError as error:
            return self._reply(400, {"error": error.message})
        self._reply(200, {"outputs": {k: v.numpy().tolist() for k, v in out.items()}})

    def _reply(self, code, payload):
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def rest_server(exported):
    handler = type("Handler", (_FakeTFServing,), {"signature": tf.saved_model.load(exported).signatures["serving_default"]})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_rest_round_trip_and_command_line(rest_server, exported, tmp_path, capsys):
    from export.client import main

    images = [photo(40, 60), photo(50, 30, "PNG")]
    masks = predict_rest(rest_server, "pan", images)
    direct = tf.saved_model.load(exported).signatures["serving_default"](images=tf.constant(images))
    assert [m.shape for m in masks] == [(40, 60), (50, 30)]
    np.testing.assert_array_equal(masks[0], direct["labels"][0, :40, :60].numpy())

    with pytest.raises(ServingError, match=r"HTTP 400: .*images\[0\]: not a JPEG, PNG, GIF or BMP image"):
        predict_rest(rest_server, "pan", [b"not an image"])
    with pytest.raises(ServingError, match="HTTP 404: .*Servable not found"):
        predict_rest(rest_server, "other", images)

    paths = []
    for i, data in enumerate(images):
        paths.append(str(tmp_path / f"img{i}.{'jpg' if i == 0 else 'png'}"))
        open(paths[-1], "wb").write(data)
    assert main(["--url", rest_server, "--model", "pan", paths[0], "--out", str(tmp_path / "mask.png")]) == 0
    assert "img0.jpg: 40x60, classes" in capsys.readouterr().out
    np.testing.assert_array_equal(np.array(Image.open(tmp_path / "mask.png")), masks[0])
    assert main(["--url", rest_server, "--model", "pan", *paths, "--out", str(tmp_path / "masks")]) == 0
    np.testing.assert_array_equal(np.array(Image.open(tmp_path / "masks" / "img1.png")), masks[1])
    assert main(["--url", "http://127.0.0.1:9", "--model", "pan", paths[0]]) == 1
    assert "error: http://127.0.0.1:9/v1/models/pan:predict" in capsys.readouterr().err
