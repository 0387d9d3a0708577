"""The training command's default run exports through kseg.serving: the SavedModel loads
in TF Serving's loader and answers JPEG bytes like the trained model; the ONNX file passes
the ONNX Runtime check."""

import os

import numpy as np
import tensorflow as tf

from kseg.training.config import load_config
from tests.serving.conftest import decoded, photo


def test_a_trained_run_is_exported(tmp_path):
    import keras

    from kseg.data import ensure_builtin_dataset
    from kseg.training.runner import train

    root = ensure_builtin_dataset(str(tmp_path / "shapes"))
    overrides = ["train.steps=4", "train.checkpoint_every=4", "data.crop=[64,64]", "data.batch_size=2",
                 "model.options={decoder_filters: 16}", f"data.root={root}", "export.name=shapes"]
    result = train(load_config(overrides=overrides), str(tmp_path / "run"), verbose=0)

    saved = result["exports"]["saved_model"]
    assert saved == os.path.join(result["run_dir"], "serving", "shapes", "4")
    assert os.path.isfile(os.path.join(result["run_dir"], "serving", "models.config"))
    onnx = result["exports"]["onnx"]
    assert onnx["path"] == os.path.join(result["run_dir"], "model.onnx") and onnx["verification"]["ok"]
    check = onnx["verification"]
    assert check["logits_max_abs_diff"] <= 1e-4 * max(1.0, check["logits_max_abs"])

    data = photo(70, 90)
    with tf.compat.v1.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as session:
        signature = tf.compat.v1.saved_model.loader.load(session, ["serve"], saved).signature_def["serving_default"]
        got = session.run(
            {k: v.name for k, v in signature.outputs.items()}, {signature.inputs["images"].name: [data]}
        )
    model = keras.saving.load_model(result["model"])
    want = tf.nn.softmax(model.predict(decoded(data)[None], verbose=0)).numpy()
    np.testing.assert_array_equal(got["labels"], want.argmax(-1))
    np.testing.assert_allclose(got["probabilities"], want, atol=1e-5)
