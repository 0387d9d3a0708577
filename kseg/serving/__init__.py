"""Deployment: SavedModel for TF Serving, ONNX, and a serving client.

    from kseg.serving import export_saved_model, export_onnx
    export_saved_model(model, "exported", "pan")      # exported/pan/1/, exported/models.config
    export_onnx(model, "pan.onnx")                    # verified with ONNX Runtime
"""

from kseg.constants import SERVING_SIGNATURE, TENSOR_SIGNATURE
from kseg.serving.graph import PAD_LABEL, Segmenter
from kseg.serving.onnx import OnnxExportError, export_onnx
from kseg.serving.saved_model import ExportError, export_saved_model, existing_versions

__all__ = [
    "PAD_LABEL",
    "SERVING_SIGNATURE",
    "TENSOR_SIGNATURE",
    "ExportError",
    "OnnxExportError",
    "Segmenter",
    "existing_versions",
    "export_onnx",
    "export_saved_model",
]
