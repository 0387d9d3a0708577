"""Seg-GAN and SS-GAN: discriminators, SS-GAN's generators and the adversarial trainer models."""

from kseg.models.gan.adversarial import SSGAN, AdversarialSegmenter, SegGAN  # noqa: F401
from kseg.models.gan.discriminators import SegGANDiscriminator, SSGANDiscriminator  # noqa: F401
from kseg.models.gan.generators import SSGANGenerator  # noqa: F401
