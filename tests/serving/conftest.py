import io

import keras
import numpy as np
import pytest
from PIL import Image
from tests.tiny import TINY_RESNET


def photo(height, width, fmt="JPEG"):
    """Encoded bytes of matplotlib's grace_hopper.jpg (a real photo) resized to (height, width)."""
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        image = Image.open(f).convert("RGB").resize((width, height), Image.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, quality=90)
    return buffer.getvalue()


def encoded(image, fmt, **options):
    """Bytes of the PIL `image` saved as `fmt` with Pillow's `options`."""
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def decoded(data):
    """The 8-bit image in `data` as viewers show it, decoded by Pillow: float32 (H, W, 3). The
    serving graph must decode it to these pixels (the same IDCT, the same EXIF orientation)."""
    from PIL import ImageOps

    with Image.open(io.BytesIO(data)) as opened:
        return np.asarray(ImageOps.exif_transpose(opened).convert("RGB"), np.float32)


@pytest.fixture(scope="session")
def tiny_pan():
    import kseg

    keras.utils.set_random_seed(7)
    model = kseg.models.PAN(num_classes=5, backbone="resnet50", decoder_filters=16, backbone_options=TINY_RESNET, name="tiny_pan")
    # Random-init logits are nearly flat; scale the classifier so labels are not ties.
    kernel, bias = model.get_layer("classifier").get_weights()
    model.get_layer("classifier").set_weights([kernel * 300.0, np.arange(5, dtype=np.float32) * 0.1])
    return model


def build_small_net():
    """A two-conv segmentation net (RGB 0-255 in, 5-class logits out) for tests of the export
    machinery itself, where the model's size only costs tracing time."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((None, None, 3), name="images")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(5, 1, bias_initializer=keras.initializers.RandomNormal(stddev=1.0))(x)
    return keras.Model(inputs, x, name="small_net")


@pytest.fixture(scope="session")
def small_net():
    return build_small_net()


@pytest.fixture(scope="session")
def exported(tiny_pan, tmp_path_factory):
    from kseg.serving import export_saved_model

    out = tmp_path_factory.mktemp("serving")
    return export_saved_model(tiny_pan, str(out), "pan")
