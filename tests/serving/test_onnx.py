import os

import numpy as np
import pytest
import tensorflow as tf

from kseg.serving import OnnxExportError, export_onnx
from kseg.serving.onnx import convert, onnx_function, sample_images, verify
from tests.serving.conftest import decoded, photo
from tests.tiny import TINY_VGG

onnxruntime = pytest.importorskip("onnxruntime")


def _run(path, images):
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"images": images})))


def test_deeplab_v2_dilated_aspp_parity_on_a_photo(tmp_path):
    """DeepLab v2 (VGG16 body with conv5 at rate 2, atrous fc6 at rate 12: DeepLab-LargeFOV):
    dilated convolutions and the bilinear upsampling, dynamic batch and size. (ASPP-S only
    adds three more such branches and a sum, at twice the conversion time.)"""
    import kseg

    model = kseg.models.DeepLabV2(num_classes=4, backbone="vgg16", aspp="LargeFOV", backbone_options=TINY_VGG)
    result = export_onnx(model, str(tmp_path / "deeplab.onnx"))
    check = result["verification"]
    assert check["ok"] and check["logits_max_abs_diff"] <= 1e-4 and check["label_agreement"] >= 0.999
    image = decoded(photo(97, 130))[None]
    got = _run(result["path"], image)
    want = model.predict(image, verbose=0)
    assert got["logits"].shape == (1, 97, 130, 4) and got["labels"].dtype == np.int32
    np.testing.assert_allclose(got["logits"], want, atol=1e-4)
    assert (got["labels"] == want.argmax(-1)).mean() >= 0.999


@pytest.mark.parametrize("crf", ["dense", "conv"])
def test_crf_in_the_onnx_graph(small_net, tmp_path, crf):
    import kseg

    path = str(tmp_path / f"{crf}.onnx")
    result = export_onnx(small_net, path, crf=crf, crf_params={"num_iterations": 2})  # two: the iterations chain
    assert result["verification"]["ok"]
    image = decoded(photo(60, 80))[None]
    want = kseg.inference.refine(small_net(image), image, crf=crf, num_iterations=2).numpy()
    got = _run(path, image)
    np.testing.assert_allclose(got["probabilities"], want, atol=1e-4)
    assert (got["labels"] == want.argmax(-1)).mean() >= 0.999


def test_unconvertible_ops_are_named_and_nothing_is_written(small_net, tmp_path):
    function = onnx_function(small_net, crf="dense", crf_params={"implementation": "sparse_matmul", "num_iterations": 1})
    function.get_concrete_function()
    assert function.experimental_get_tracing_count() == 1  # the CRF was built before: no second trace
    with pytest.raises(OnnxExportError, match=r"SparseTensorDenseMatMul \(DenseCRF\(implementation='sparse_matmul'\); use implementation='gather'\)"):
        convert(function, str(tmp_path / "m.onnx"))
    assert os.listdir(tmp_path) == []


def test_verify_detects_a_mismatch(small_net, tmp_path):
    path = str(tmp_path / "m.onnx")
    function = onnx_function(small_net)
    convert(function, path)
    batches = sample_images(((1, 32, 48),))
    assert verify(path, function, batches)["ok"]

    @tf.function(input_signature=function.input_signature)
    def shifted(images):
        out = function(images)
        return {**out, "logits": out["logits"] + 1e-3}

    report = verify(path, shifted, batches)
    assert not report["ok"] and report["logits_max_abs_diff"] == pytest.approx(1e-3, rel=1e-2)
