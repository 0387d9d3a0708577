"""`import kseg` is light (issue 31, item 3): the public modules load on first use,
`kseg.visualize` and `kseg.training.config` load no TensorFlow, and kseg's Keras objects are
registered as soon as Keras loads, in any import order, so a saved model loads after `import kseg`."""

import os
import subprocess
import sys

import pytest
from tests import REPO

ROOT = REPO


def _python(code, *flags):
    result = subprocess.run([sys.executable, *flags, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.parametrize("module", ["kseg", "kseg.visualize", "kseg.training.config", "kseg.constants"])
def test_these_imports_load_no_tensorflow(module):
    imported = [line.split("|")[-1].strip() for line in _python(f"import {module}", "-X", "importtime").stderr.splitlines()]
    assert module in imported and not [name for name in imported if name.split(".")[0] in ("tensorflow", "keras")]


def test_public_modules_load_on_first_use_and_saved_models_load_in_any_import_order(tmp_path):
    import kseg
    from tests.tiny import TINY_RESNET

    path = str(tmp_path / "tiny.keras")
    model = kseg.models.PAN(3, backbone="resnet50", backbone_options=TINY_RESNET, decoder_filters=8)
    model.compile(optimizer=kseg.training.CoupledWeightDecaySGD(kseg.training.PolyDecay(0.1, 10)),
                  loss=kseg.losses.MaskedSparseCategoricalCrossentropy())
    model.save(path)  # here: only the loading needs a fresh interpreter
    first_use = "; assert kseg.data.segmentation_dataset and kseg.serving.export_saved_model"  # after the load
    orders = [
        "import kseg; import keras; load = keras.saving.load_model",
        "import keras; import kseg; load = keras.saving.load_model",
        "import kseg; import tensorflow as tf; load = tf.keras.models.load_model",
        # a kseg module loads Keras: registration waits until it is whole (it would import it half done)
        "import kseg.losses; import keras; load = keras.saving.load_model",
        "import kseg.training.tasks; import keras; load = keras.saving.load_model",
    ]
    for index, order in enumerate(orders):
        code = f"{order}; m = load({path!r}); print(type(m).__name__, type(m.optimizer).__name__)"
        out = _python(code + (first_use if index == 0 else "")).stdout
        assert out.split() == ["PAN", "CoupledWeightDecaySGD"], order
    with pytest.raises(AttributeError, match="module 'kseg' has no attribute 'modles'"):
        kseg.modles
