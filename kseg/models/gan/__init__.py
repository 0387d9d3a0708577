"""Seg-GAN and SS-GAN: the adversarial models (`adversarial.py`), their discriminators and
SS-GAN's generators, the training task (`task.py`) and the `adversarial` config section
(`config.py`). Each imported on first use."""

from kseg._lazy import lazy_attributes as _lazy_attributes

__all__ = ["SSGAN", "AdversarialSegmenter", "SegGAN", "SegGANDiscriminator", "SSGANDiscriminator", "SSGANGenerator"]
__getattr__, __dir__ = _lazy_attributes(__name__, {
    "SSGAN": ".adversarial", "AdversarialSegmenter": ".adversarial", "SegGAN": ".adversarial",
    "SegGANDiscriminator": ".discriminators", "SSGANDiscriminator": ".discriminators", "SSGANGenerator": ".generators",
})
