"""Segmentation models: functional keras.Models taking RGB in [0, 255], returning logits at input size."""

from kseg.models.deeplab import DeepLabV2  # noqa: F401
from kseg.models.common import SegmentationModel, inference_model  # noqa: F401
from kseg.models.pan import PAN  # noqa: F401
from kseg.models.relationnet import RelationNet  # noqa: F401
from kseg.models.registry import ARCHITECTURES, create, register_architecture  # noqa: F401
from kseg.models.gan import (  # noqa: F401
    SSGAN,
    AdversarialSegmenter,
    SegGAN,
    SegGANDiscriminator,
    SSGANDiscriminator,
    SSGANGenerator,
)
