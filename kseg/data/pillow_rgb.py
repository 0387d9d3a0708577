"""The RGB pixels of an image opened with Pillow, as TensorFlow's decoders give them: for the
readers that decode with Pillow (the file pipeline, `training.predict`'s WebP and TIFF), so a
model sees the pixels the records pipeline and the serving graph give it."""

import numpy as np


def rgb_pixels(image):
    """uint8 `(H, W, 3)` of Pillow `image`: 16-bit grey (modes "I;16*", and "I" as older Pillow
    opens such PNGs, clipped to 16 bits) by its high byte, as TensorFlow's PNG decoder reduces
    it (Pillow's own `convert("RGB")` clips every value above 255, so a 16-bit picture would
    come out white), anything else by `convert("RGB")`."""
    if image.mode.startswith("I;16") or image.mode == "I":
        high = (np.clip(np.asarray(image).astype(np.int64), 0, 65535) >> 8).astype(np.uint8)
        return np.repeat(high[..., None], 3, axis=-1)
    return np.asarray(image.convert("RGB"))
