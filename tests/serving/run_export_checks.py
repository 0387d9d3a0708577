"""The training command's default run exports through kseg.serving: the SavedModel loads
in TF Serving's loader and answers JPEG bytes like the trained model; the ONNX file passes
the ONNX Runtime check. The check runs on the short training run of tests/commands/test_fit.py."""

import os

import numpy as np
import tensorflow as tf

from tests.serving.conftest import decoded, photo


def check_run_exports(result, model):
    """`result` of a `train` run with exports named "shapes" ended at step 14 (run by
    tests/commands/test_fit.py, whose short run this checks, so the suite trains once)."""
    step = result["steps"]
    saved = result["exports"]["saved_model"]
    assert saved == os.path.join(result["run_dir"], "serving", "shapes", str(step))
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
    want = tf.nn.softmax(model.predict(decoded(data)[None], verbose=0)).numpy()
    np.testing.assert_array_equal(got["labels"], want.argmax(-1))
    np.testing.assert_allclose(got["probabilities"], want, atol=1e-5)
