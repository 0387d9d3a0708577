"""RelationNet (Zhuang et al., ICPR 2018): OHEM on the logits, the Spatial Correlation Loss
on the similarity subnet (eq. 2), the subnet dropped for evaluation and deployment."""

import kseg
from kseg.training.schema import ConfigError
from kseg.training.tasks.base import Task, register_task


@register_task("relationnet")
class RelationNetTask(Task):
    """`relation.scl_weight > 0` builds the similarity subnet (`training_heads`) and trains
    `{"logits": train.loss, "similarity": SCL x scl_weight}`, both supervised by the same
    label map; with 0 the model is a plain segmentation network (Alternating Training's
    coarse stage, §III-C2). `relation.shifted_steps` evaluates the run with shifted
    multi-step testing (§II-C)."""

    SECTIONS = ("relation",)
    ARGUMENTS_FROM_CONFIG = {  # output_stride is not RelationNet's to choose: 8, checked by `check`
        **Task.ARGUMENTS_FROM_CONFIG,
        "training_heads": ("relation.scl_weight", lambda weight: weight > 0),  # SCL needs the similarity subnet
    }

    def check(self):
        super().check()
        stride, fixed = self.config.model.output_stride, self.model_class.OUTPUT_STRIDE
        if stride != fixed:
            raise ConfigError(
                f"model.output_stride must be {fixed} for model.architecture={self.architecture} (Wide ResNet-38's, "
                f"§II-A1). Received: {stride!r}"
            )
        steps = self.config.relation.shifted_steps
        if steps is not None and fixed % steps:
            divisors = [str(d) for d in range(1, fixed + 1) if fixed % d == 0]
            divisors = f"{', '.join(divisors[:-1])} or {divisors[-1]}"
            raise ConfigError(f"relation.shifted_steps must divide the output stride {fixed}: {divisors}. Received: {steps!r}")

    @property
    def similarity_head(self):
        return self.config.relation.scl_weight > 0

    def compile_model(self, model, optimizers):
        if not self.similarity_head:
            return super().compile_model(model, optimizers)
        metric = kseg.metrics.ConfusionMatrixMetric(self.config.data.num_classes)
        model.compile(
            optimizer=optimizers["optimizer"],
            loss={"logits": self.build_loss(), "similarity": kseg.losses.SpatialCorrelationLoss()},
            loss_weights={"logits": 1.0, "similarity": float(self.config.relation.scl_weight)},
            metrics={"logits": [metric]},
            jit_compile=self.config.train.jit_compile,
        )
        optimizers["optimizer"].build(model.trainable_variables)

    def training_targets(self, dataset, model):
        if not self.similarity_head:
            return dataset
        return dataset.map(lambda images, labels: (images, {"logits": labels, "similarity": labels}))

    def test_time_options(self):
        steps = self.config.relation.shifted_steps
        return {"shifted_steps": steps} if steps else {}
