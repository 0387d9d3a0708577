"""Test-time procedures on top of a segmentation model's output: multi-scale and flip
augmentation, sliding windows, RelationNet's shifted testing, CRF refinement, and
`predict`, which composes them as `training.evaluate` and `training.fit` run them."""

from kseg.inference.crf import refine  # noqa: F401
from kseg.inference.images import image_paths, load_segmenter, predict_files  # noqa: F401
from kseg.inference.multi_scale import FUSIONS, predict_multi_scale  # noqa: F401
from kseg.inference.predict import TestTimeOptionError, predict, predictor, shifted_base  # noqa: F401
from kseg.inference.shifted import (  # noqa: F401
    centre_network, logits_stride, receptive_field_offsets, shifted_predict, stride_logits_model,
)
from kseg.inference.sliding_window import predict_sliding_window  # noqa: F401

__all__ = [
    "centre_network",
    "FUSIONS",
    "image_paths",
    "load_segmenter",
    "logits_stride",
    "predict",
    "predict_files",
    "predict_multi_scale",
    "predict_sliding_window",
    "predictor",
    "receptive_field_offsets",
    "refine",
    "shifted_base",
    "shifted_predict",
    "stride_logits_model",
    "TestTimeOptionError",
]
