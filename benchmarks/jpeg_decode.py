"""What kseg's JPEG decode costs against TensorFlow's default one: `kseg.serving.decoding.decode_pixels`
(libjpeg's accurate integer IDCT, as Pillow decodes, then `kseg.serving.exif`: the EXIF orientation
looked up in the first 256 KiB and the pixels turned) against `tf.io.decode_image` (TensorFlow's fast
IDCT), on JPEG photos with a camera's EXIF block stored upright (orientation 1) and sideways (6).
`accurate_ms` is the accurate IDCT alone, to tell its share from the orientation's.

One JSON line per (size, orientation): milliseconds per image and `ratio` = kseg / TensorFlow's default
(> 1: slower), measured in the same run.

    python benchmarks/jpeg_decode.py
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
from kseg.serving.decoding import decode_pixels  # noqa: E402

SIZES = ((240, 320), (768, 1024), (3024, 4032))  # the built-in data, a web picture, a 12 MP phone photo


def _photo(height, width, orientation):
    rng = np.random.RandomState(0)
    smooth = np.asarray(Image.fromarray(rng.randint(0, 255, (height // 8, width // 8, 3), np.uint8)).resize((width, height)))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "maker", "model", orientation
    out = io.BytesIO()
    Image.fromarray(smooth).save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


kseg_decode = tf.function(lambda data: tf.shape(decode_pixels(data)), input_signature=[tf.TensorSpec([], tf.string)])
plain_decode = tf.function(
    lambda data: tf.shape(tf.io.decode_image(data, channels=3, expand_animations=False)),
    input_signature=[tf.TensorSpec([], tf.string)],
)
accurate_decode = tf.function(
    lambda data: tf.shape(tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE")),
    input_signature=[tf.TensorSpec([], tf.string)],
)


def main():
    for height, width in SIZES:
        for orientation in (1, 6):
            data = tf.constant(_photo(height, width, orientation))
            plain = _median_seconds(lambda: plain_decode(data))
            accurate = _median_seconds(lambda: accurate_decode(data))
            kseg = _median_seconds(lambda: kseg_decode(data))
            print(json.dumps({
                "case": f"decode_{height}x{width}_orientation{orientation}", "cpu": _cpu_model(),
                "date": time.strftime("%Y-%m-%d"), "tensorflow_default_ms": round(plain * 1000, 2),
                "accurate_ms": round(accurate * 1000, 2), "kseg_ms": round(kseg * 1000, 2), "ratio": round(kseg / plain, 2),
            }), flush=True)


if __name__ == "__main__":
    main()
