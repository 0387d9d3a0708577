"""DeepLab v2's training (Chen et al. §3.2, §4.1): one network, a loss per multi-scale output."""

import kseg
from kseg.training.tasks.base import Task, register_task


@register_task("deeplabv2")
class DeepLabTask(Task):
    """DeepLab v2 as its release trains it: with `model.options.multi_scale` the loss is the
    sum of the losses on every scale's output and on their max fusion (MSC, §3.2, Tab. 4),
    each against the labels at its own resolution; `train.loss_resolution: output_stride`
    compares the logits at the output stride with labels subsampled to it (§4) instead of
    upsampling the logits. The model trains with its `training_outputs`; evaluation and
    export use the fused output (`inference_model`)."""

    ARGUMENTS_FROM_CONFIG = {**Task.ARGUMENTS_FROM_CONFIG, "training_outputs": "train.loss_resolution"}
    LOSS_RESOLUTIONS = kseg.constants.LOSS_RESOLUTIONS

    def compile_model(self, model, optimizers):
        subsampled = self.config.train.loss_resolution == "output_stride"
        loss = self.build_loss()
        if subsampled:
            loss = kseg.losses.SubsampledLabelsLoss(loss)
        metric = kseg.metrics.ConfusionMatrixMetric(self.config.data.num_classes, subsample_labels=subsampled)
        model.compile(
            optimizer=optimizers["optimizer"],
            loss={name: loss for name in model.output_names},
            metrics={"logits": [metric]},
            jit_compile=self.config.train.jit_compile,
        )
        optimizers["optimizer"].build(model.trainable_variables)

    def training_targets(self, dataset, model):
        names = list(model.output_names)
        return dataset.map(lambda images, labels: (images, {name: labels for name in names}))
