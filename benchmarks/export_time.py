"""What a SavedModel export costs: kseg's `SignatureArchive` (the signatures' concrete
functions and their variables on the root) against `keras.export.ExportArchive` with the
same two tf.functions as endpoints (what kseg used before: TF traces the endpoints again
inside `tf.saved_model.save`, and the archive walks the model for lookup tables), for the
model of the default preset (`python -m training.fit`'s first run exports it) and for a
DeepLab v2 ResNet-101 with ASPP-L.

Each export builds its tf.functions afresh (as `export_saved_model` does); a first export of
each kind is discarded (autograph's conversions are cached per process). One JSON line per
model: median seconds of 3 exports each and `ratio` = kseg / keras (< 1: faster).

    python benchmarks/export_time.py
"""

import json
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.onednn import _cpu_model  # noqa: E402
from kseg.constants import SERVING_SIGNATURE, TENSOR_SIGNATURE  # noqa: E402
from kseg.serving.graph import Segmenter, segment_encoded, segment_tensor  # noqa: E402
from kseg.serving.saved_model import build_archive  # noqa: E402


def keras_archive(model):
    """The former export: the same endpoints on a `keras.export.ExportArchive`."""
    segmenter = Segmenter(model)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="images")])
    def serve_encoded(images):
        return segment_encoded(segmenter, images, True)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
    def serve_tensor(images):
        return segment_tensor(segmenter, images, True)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(SERVING_SIGNATURE, serve_encoded)
    archive.add_endpoint(TENSOR_SIGNATURE, serve_tensor)
    return archive


def _seconds(make_archive, model, folder):
    path = tempfile.mkdtemp(dir=folder)
    shutil.rmtree(path)
    start = time.perf_counter()
    make_archive(model).write_out(path)
    return time.perf_counter() - start


def _models():
    import kseg
    from kseg.training.config import load_config
    from kseg.training.tasks import get_task

    yield "default_preset_pan", get_task(load_config()).build_model()
    yield "deeplabv2_resnet101_aspp_l", kseg.models.DeepLabV2(num_classes=21, backbone="resnet101", aspp="L", backbone_weights=None)


def main():
    folder = tempfile.mkdtemp()
    try:
        for name, model in _models():
            model(tf.zeros([1, 64, 64, 3]))
            times = {"keras": [], "kseg": []}
            for repeat in range(4):
                for kind, make in (("keras", keras_archive), ("kseg", build_archive)):
                    seconds = _seconds(make, model, folder)
                    if repeat:
                        times[kind].append(seconds)
            keras_s, kseg_s = (sorted(times[k])[1] for k in ("keras", "kseg"))
            print(json.dumps({
                "case": name, "cpu": _cpu_model(), "date": time.strftime("%Y-%m-%d"),
                "keras_s": round(keras_s, 2), "kseg_s": round(kseg_s, 2), "ratio": round(kseg_s / keras_s, 2),
            }), flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
