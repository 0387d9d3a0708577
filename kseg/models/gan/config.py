"""The `adversarial` config section: what Seg-GAN and SS-GAN read beyond the common sections
(the weight of the adversarial term, its form, the discriminator's loss and Adam). Loads no
TensorFlow: the schema reads it."""

import dataclasses

from kseg.training.checks import choice, entry, fraction, non_negative, positive

ADVERSARIAL_LOSSES = ("non_saturating", "minimax")  # Seg-GAN eq. 4 | Goodfellow's original
DISCRIMINATOR_LOSSES = ("bce", "focal")

SHORTHANDS = {"lambda_adv": "adversarial.lambda_adv"}  # --set lambda_adv=0.1, for sweeps


@dataclasses.dataclass
class AdversarialSection:
    lambda_adv: float = entry(0.01, non_negative, "weight of L_adv in L_seg = L_ce + lambda L_adv (--set lambda_adv=)")
    adversarial_loss: str = entry("non_saturating", choice(ADVERSARIAL_LOSSES), "Seg-GAN eq. 4 or minimax")
    d_loss: str = entry("bce", choice(DISCRIMINATOR_LOSSES), "the discriminator's loss (eq. 1) or focal")
    d_learning_rate: float = entry(1e-4, positive, "Adam for D, same schedule shape as the segmentation network")
    d_beta_1: float = entry(0.9, fraction, "Adam beta_1 for D")
    d_beta_2: float = entry(0.999, fraction, "Adam beta_2 for D")


SECTIONS = {"adversarial": AdversarialSection}  # read by kseg.training.schema
