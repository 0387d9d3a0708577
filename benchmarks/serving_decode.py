"""What naming an undecodable image costs a request: the serving graph's decoding
(`kseg.serving.decoding.decode_batch`: a tf.data map with `ignore_errors`, so a decoder failure is
refused as `images[i]`) against the plain per-image loop it replaced (the same decoder in a
while loop, whose failure names no image), on JPEG photos of the built-in dataset's size
and of 512x512, one and eight a request.

One JSON line per (size, batch): milliseconds per request for both and `ratio` =
kseg / plain (> 1: slower), measured in the same run.

    python benchmarks/serving_decode.py
"""

import io
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.onednn import _cpu_model, _median_seconds  # noqa: E402
from kseg.serving.decoding import decode_batch, decode_image  # noqa: E402

SIZES = ((240, 320), (512, 512))
BATCHES = (1, 8)


def _jpeg(height, width):
    rng = np.random.RandomState(0)
    smooth = np.asarray(Image.fromarray(rng.randint(0, 255, (height // 8, width // 8, 3), np.uint8)).resize((width, height)))
    out = io.BytesIO()
    Image.fromarray(smooth).save(out, "JPEG", quality=90)
    return out.getvalue()


@tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
def kseg_decoding(images):
    decoded, shapes = decode_batch(images, tf.shape(images)[0])
    return decoded.read(0)[0, 0], shapes


@tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
def plain_decoding(images):
    count = tf.shape(images)[0]
    decoded = tf.TensorArray(tf.float32, size=count, infer_shape=False, element_shape=tf.TensorShape([None, None, 3]))
    shapes = tf.TensorArray(tf.int32, size=count)
    for i in tf.range(count):
        image = decode_image(images[i], i)
        decoded = decoded.write(i, image)
        shapes = shapes.write(i, tf.shape(image)[:2])
    return decoded.read(0)[0, 0], shapes.stack()


def main():
    for height, width in SIZES:
        for batch in BATCHES:
            images = tf.constant([_jpeg(height, width)] * batch)
            plain = _median_seconds(lambda: plain_decoding(images))
            kseg = _median_seconds(lambda: kseg_decoding(images))
            print(json.dumps({
                "case": f"decode_{height}x{width}_batch{batch}", "cpu": _cpu_model(), "date": time.strftime("%Y-%m-%d"),
                "plain_ms": round(plain * 1000, 2), "kseg_ms": round(kseg * 1000, 2), "ratio": round(kseg / plain, 2),
            }), flush=True)


if __name__ == "__main__":
    main()
