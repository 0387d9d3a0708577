"""Client side of a TF Serving deployment: build requests for the `serving_default`
signature (REST JSON and gRPC PredictRequest), send them, and turn responses into label
maps. The REST route needs only the standard library; gRPC needs `tensorflow-serving-api`.
"""

import base64
import io
import json
import urllib.error
import urllib.request

import numpy as np
from PIL import Image

from kseg.constants import SERVING_SIGNATURE
from kseg.visualize import voc_palette



class ServingError(Exception):
    """The server answered with an error, or the response is not what the signature returns."""


def rest_url(url, model, version=None):
    """`http://host:8501` -> `http://host:8501/v1/models/<model>[/versions/<N>]:predict`."""
    path = f"/v1/models/{model}" + (f"/versions/{int(version)}" if version is not None else "")
    return url.rstrip("/") + path + ":predict"


def rest_request(images, signature_name=SERVING_SIGNATURE):
    """The JSON body (columnar "inputs" form) for encoded images: bytes go as {"b64": ...}."""
    return {
        "signature_name": signature_name,
        "inputs": {"images": [{"b64": base64.b64encode(data).decode("ascii")} for data in images]},
    }


def _crop(labels, image_shape):
    return [np.asarray(m, np.int32)[: int(h), : int(w)] for m, (h, w) in zip(labels, image_shape)]


def parse_rest_response(body):
    """Label maps (one `(H, W)` int32 array per image, padding removed) from a REST
    response in the columnar ("outputs") or row ("predictions") form."""
    if "error" in body:
        raise ServingError(f"server error: {body['error']}")
    if "outputs" in body:
        outputs = body["outputs"]
        if not isinstance(outputs, dict) or "labels" not in outputs or "image_shape" not in outputs:
            raise ServingError(f"expected outputs 'labels' and 'image_shape'. Received keys: {sorted(outputs)}")
        return _crop(outputs["labels"], outputs["image_shape"])
    if "predictions" in body:
        rows = body["predictions"]
        if not isinstance(rows, list) or not all(isinstance(r, dict) and {"labels", "image_shape"} <= set(r) for r in rows):
            raise ServingError("expected 'predictions' rows with 'labels' and 'image_shape'")
        return _crop([r["labels"] for r in rows], [r["image_shape"] for r in rows])
    raise ServingError(f"expected 'outputs' or 'predictions' in the response. Received keys: {sorted(body)}")


def predict_rest(url, model, images, version=None, timeout=60.0):
    """POST encoded images to TF Serving's REST API; returns the label maps."""
    data = json.dumps(rest_request(images)).encode()
    request = urllib.request.Request(rest_url(url, model, version), data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read()
    except urllib.error.HTTPError as error:
        raise ServingError(f"{request.full_url}: HTTP {error.code}: {error.read().decode(errors='replace')}") from error
    except urllib.error.URLError as error:
        raise ServingError(f"{request.full_url}: {error.reason}") from error
    except OSError as error:  # a timeout or a connection dropped while the answer was read
        raise ServingError(f"{request.full_url}: {error}") from error
    try:
        body = json.loads(text)
    except ValueError:
        raise ServingError(f"{request.full_url}: the answer is not JSON: {text[:80]!r}") from None
    if not isinstance(body, dict):
        raise ServingError(f"{request.full_url}: expected a JSON object. Received: {text[:80]!r}")
    return parse_rest_response(body)


def grpc_request(images, model, version=None, signature_name=SERVING_SIGNATURE):
    """A `tensorflow_serving.apis.predict_pb2.PredictRequest` for encoded images."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = int(version)
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(list(images), dtype=tf.string, shape=[len(images)]))
    request.output_filter.extend(["labels", "image_shape"])
    return request


def parse_grpc_response(response):
    """Label maps from a `PredictResponse`."""
    import tensorflow as tf

    missing = {"labels", "image_shape"} - set(response.outputs)
    if missing:
        raise ServingError(f"the response lacks outputs {sorted(missing)}. Received: {sorted(response.outputs)}")
    return _crop(tf.make_ndarray(response.outputs["labels"]), tf.make_ndarray(response.outputs["image_shape"]))


def predict_grpc(target, model, images, version=None, timeout=60.0):
    """Send a PredictRequest to `host:port`; returns the label maps."""
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            response = stub.Predict(grpc_request(images, model, version), timeout=timeout)
        except grpc.RpcError as error:
            raise ServingError(f"{target}: {error.code().name}: {error.details()}") from error
    return parse_grpc_response(response)


def mask_png(labels, palette=None):
    """A label map as a paletted PNG (the VOC SegmentationClass form: pixel values are the
    class indices, the palette colours them). Returns the PNG bytes."""
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.min(initial=0) < 0 or labels.max(initial=0) > 255:
        raise ValueError(f"Expected a (H, W) label map with values in [0, 255]. Received shape {labels.shape}")
    image = Image.fromarray(labels.astype(np.uint8), mode="P")
    image.putpalette((voc_palette() if palette is None else np.asarray(palette, np.uint8)).reshape(-1).tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
