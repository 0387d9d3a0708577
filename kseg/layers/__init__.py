"""Keras layers of kseg. Every class is registered under the "kseg" package for `.keras` files."""

from kseg.layers.aspp import ASPP, ASPP_PRESETS, ASPPV3  # noqa: F401
from kseg.layers.batch_norm import FusedBatchNormalization  # noqa: F401
from kseg.layers.conv_block import ConvBNActivation  # noqa: F401
from kseg.layers.pan import FeaturePyramidAttention, GlobalAttentionUpsample  # noqa: F401
from kseg.layers.deformable import DeformableConv2D  # noqa: F401
from kseg.layers.relation import RelationModule, ShiftCorrelation, SimilarityHead  # noqa: F401
from kseg.layers.preprocessing import ImageNormalization  # noqa: F401
from kseg.layers.resize import ResizeByScale, ResizeLike  # noqa: F401
from kseg.layers.crf import ConvCRF, DenseCRF  # noqa: F401,E402

__all__ = [
    "ASPP",
    "ASPP_PRESETS",
    "ASPPV3",
    "ConvBNActivation",
    "ConvCRF",
    "DeformableConv2D",
    "DenseCRF",
    "FeaturePyramidAttention",
    "FusedBatchNormalization",
    "GlobalAttentionUpsample",
    "ImageNormalization",
    "RelationModule",
    "ResizeByScale",
    "ResizeLike",
    "ShiftCorrelation",
    "SimilarityHead",
]
