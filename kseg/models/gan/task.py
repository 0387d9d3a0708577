"""Seg-GAN and SS-GAN: a segmentation network trained against a discriminator, by the
model's own `train_step` with two optimizers (Seg-GAN §4.2, SS-GAN §3)."""

import keras

from kseg.training.optimization import build_schedule
from kseg.training.tasks.base import Task, register_task


@register_task("seggan", "ssgan")
class AdversarialTask(Task):
    """S (the generator) learns with the config's SGD, D with Adam (`adversarial.d_*`) on the
    same schedule shape; the losses are the model's (`adversarial.lambda_adv`,
    `adversarial_loss`, `d_loss`), its segmentation term `train.loss` (with
    `train.class_weights` and the OHEM settings, as for the other families). S alone is evaluated, exported and saved as
    `generator.keras`."""

    SECTIONS = ("adversarial",)
    SEGMENTER_PART = "generator"
    ARGUMENTS_FROM_CONFIG = {
        **Task.ARGUMENTS_FROM_CONFIG,
        "lambda_adv": "adversarial.lambda_adv",
        "adversarial_loss": "adversarial.adversarial_loss",
        "d_loss": "adversarial.d_loss",
    }

    def build_optimizers(self, steps):
        return {**super().build_optimizers(steps), "d_optimizer": self.discriminator_adam(steps)}

    def discriminator_adam(self, steps):
        """Adam for the discriminator (Seg-GAN §4.2), with the segmentation network's schedule shape."""
        adversarial = self.config.adversarial
        schedule = build_schedule(self.config, steps, initial_learning_rate=adversarial.d_learning_rate)
        return keras.optimizers.Adam(learning_rate=schedule, beta_1=adversarial.d_beta_1, beta_2=adversarial.d_beta_2)

    def compile_model(self, model, optimizers):
        model.compile(
            g_optimizer=optimizers["optimizer"], d_optimizer=optimizers["d_optimizer"],
            jit_compile=self.config.train.jit_compile, segmentation_loss=self.build_loss(),
        )

    def segmentation_network(self, model):
        return model.generator

    def saved_parts(self, model):
        return {"generator": ("generator.keras", self.inference_model(model))}
