"""What the trainer asks of a model family (TF Model Garden's `Task`, in Keras terms)."""

import inspect

import keras

import kseg
from kseg.registry import registrar
from kseg.training.batch_norm import apply_batch_norm_policy
from kseg.training.optimization import build_optimizer
from kseg.training.optimizers import MultiplierError
from kseg.training.schema import ConfigError

TASKS = {}  # architecture name -> Task subclass


register_task = registrar(TASKS, "architecture")  # @register_task("pan"): the class trains that architecture


def get_task(config):
    """The task for `config.model.architecture`, bound to `config`."""
    architecture = config.model.architecture
    if architecture not in TASKS:
        raise ConfigError(f"model.architecture must be one of {list(TASKS)}. Received: {architecture!r}")
    return TASKS[architecture](config)


class Task:
    """Everything that differs between model families, behind one interface.

    The trainer (`kseg.training.runner`) knows no architecture: it asks the task for the
    model, its optimizers, how to compile it, the targets its outputs are trained
    against, the variables to checkpoint, the model to evaluate and deploy and the
    test-time procedure. A subclass overrides what its papers need and registers the
    architecture names it trains with `@register_task(...)`.

    The model of an architecture is `kseg.models.ARCHITECTURES[name]` (registered where the
    model is defined). `ARGUMENTS_FROM_CONFIG` maps the
    constructor arguments that other config keys set to those keys (or to `(key, function
    of its value)`); `model.options` may give any other constructor argument.
    """

    ARGUMENTS_FROM_CONFIG = {
        "num_classes": "data.num_classes",
        "backbone": "model.backbone",
        "output_stride": "model.output_stride",
        "backbone_weights": "model.backbone_weights",
    }
    LOSS_RESOLUTIONS = ("input",)  # the `train.loss_resolution` values the task trains with
    SECTIONS = ()  # the config sections of its own this family reads (e.g. "adversarial")
    SEGMENTER_PART = "model"  # the run's file (a result key) holding the network evaluated and deployed

    def __init__(self, config):
        self.config = config
        self.architecture = config.model.architecture

    @property
    def model_class(self):
        return kseg.models.ARCHITECTURES[self.architecture]

    # --- configuration -------------------------------------------------------------

    def config_arguments(self):
        """Constructor arguments taken from config keys other than `model.options`: each entry
        of `ARGUMENTS_FROM_CONFIG` the constructor takes, read from its key (and passed
        through its function when the entry is `(key, function)`)."""
        parameters = inspect.signature(self.model_class.__init__).parameters
        arguments = {}
        for name, source in self._argument_sources().items():
            if name in parameters:
                key, convert = source if isinstance(source, tuple) else (source, None)
                section, field = key.split(".")
                value = self.config[section][field]
                arguments[name] = convert(value) if convert else value
        return arguments

    def _argument_sources(self):
        """`ARGUMENTS_FROM_CONFIG`, with `backbone` under the name the model gives it
        (`BACKBONE_ARGUMENT`: SS-GAN's is `generator`)."""
        sources = dict(self.ARGUMENTS_FROM_CONFIG)
        own = getattr(self.model_class, "BACKBONE_ARGUMENT", "backbone")
        if own != "backbone" and "backbone" in sources:
            sources[own] = sources.pop("backbone")
        return sources

    def accepted_options(self):
        """The constructor arguments `model.options` may set."""
        parameters, sources = inspect.signature(self.model_class.__init__).parameters.items(), self._argument_sources()
        return [
            name for name, p in parameters
            if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and name not in sources
        ]

    def check(self):
        """Raise a one-line `ConfigError` for a config this task cannot train (before any
        data or model work): every `model.options` key must be a constructor argument
        that no other key sets, and `model.backbone` one the architecture takes."""
        names, backbone = self.model_class.BACKBONES, self.config.model.backbone
        if backbone not in names:
            expected = repr(names[0]) if len(names) == 1 else f"one of {list(names)}"
            others = [name for name in TASKS if backbone in kseg.models.ARCHITECTURES[name].BACKBONES]
            hint = f"; set model.architecture={' or '.join(others)} to use it" if others else ""
            raise ConfigError(
                f"model.backbone must be {expected} for model.architecture={self.architecture}. "
                f"Received: {backbone!r}{hint}"
            )
        resolution = self.config.train.loss_resolution
        if resolution not in self.LOSS_RESOLUTIONS:
            others = [name for name, task in TASKS.items() if resolution in task.LOSS_RESOLUTIONS]
            raise ConfigError(
                f"train.loss_resolution must be {self.LOSS_RESOLUTIONS[0]!r} for model.architecture={self.architecture} "
                f"(Received: {resolution!r}; model.architecture={' or '.join(others)} trains with it)"
            )
        self._check_unread_sections()
        weights, classes = self.config.train.class_weights, self.config.data.num_classes
        if isinstance(weights, list) and len(weights) != classes:
            raise ConfigError(f"train.class_weights has {len(weights)} weights but data.num_classes={classes}")
        accepted, sources = self.accepted_options(), self._argument_sources()
        for key in self.config.model.options:
            if key in sources:
                source = sources[key]
                raise ConfigError(f"model.options.{key}: set {source[0] if isinstance(source, tuple) else source} instead")
            if key not in accepted:
                raise ConfigError(
                    f"model.options.{key} is not an argument of {self.model_class.__name__} "
                    f"(model.architecture={self.architecture}); it takes: {', '.join(accepted)}"
                )

    def _check_unread_sections(self):
        """A key of another family's section set away from its default would be ignored: refuse it."""
        from kseg.training.schema import DEFAULTS

        for section in sorted({s for task in TASKS.values() for s in task.SECTIONS} - set(self.SECTIONS)):
            for key, value in self.config[section].items():
                if value != DEFAULTS[section][key]:
                    readers = sorted(name for name, task in TASKS.items() if section in task.SECTIONS)
                    raise ConfigError(
                        f"{section}.{key}={value!r} is not used by model.architecture={self.architecture}: "
                        f"only {' and '.join(readers)} read the {section} section"
                    )

    # --- building ------------------------------------------------------------------

    def build_model(self):
        """The architecture's model with the config's BatchNorm policy applied (see
        `kseg.training.batch_norm`); a constructor's argument error becomes a `ConfigError`."""
        try:
            model = self.model_class(**self.config_arguments(), **self.config.model.options)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"model (architecture={self.architecture}): {error}") from error
        apply_batch_norm_policy(self.config.model.batch_norm, self.segmentation_network(model))
        return model

    def build_loss(self):
        """The segmentation loss `train.loss` names, or the weighted sum it writes; the
        cross-entropy, OHEM and focal terms take `train.class_weights` (a list by now: the
        trainer computes named weightings from the training labels first; a dry run builds
        without them)."""
        train = self.config.train
        weights = train.class_weights if isinstance(train.class_weights, list) else None
        builders = {
            "cross_entropy": lambda: kseg.losses.MaskedSparseCategoricalCrossentropy(
                class_weights=weights, label_smoothing=train.label_smoothing
            ),
            "ohem": lambda: kseg.losses.OHEMCrossEntropy(
                threshold=train.ohem_threshold, min_kept=train.ohem_min_kept, class_weights=weights
            ),
            "focal": lambda: kseg.losses.FocalLoss(gamma=train.focal_gamma, alpha=weights),
            "dice": kseg.losses.DiceLoss,
            "tversky": lambda: kseg.losses.TverskyLoss(alpha=train.tversky_alpha, beta=train.tversky_beta),
            "lovasz": kseg.losses.LovaszSoftmaxLoss,
        }
        terms = kseg.losses.parse_loss_expression(train.loss)
        if len(terms) == 1 and terms[0][0] == 1.0:
            return builders[terms[0][1]]()
        return kseg.losses.WeightedSumLoss([builders[name]() for _, name in terms], [weight for weight, _ in terms])

    def build_optimizers(self, steps):
        """{checkpoint name: optimizer}; "optimizer" (the model's own) comes first."""
        return {"optimizer": build_optimizer(self.config, steps)}

    def compile(self, model, optimizers):
        """Compile `model` for `model.fit` with `optimizers` from `build_optimizers` (which
        are built on their variables here); `lr_multipliers` that fit no variable are a
        `ConfigError`."""
        try:
            self.compile_model(model, optimizers)
        except MultiplierError as error:
            raise ConfigError(f"optimizer.{error}") from error

    def compile_model(self, model, optimizers):
        """What `compile` does for this family (override this)."""
        metric = kseg.metrics.ConfusionMatrixMetric(self.config.data.num_classes)
        model.compile(
            optimizer=optimizers["optimizer"], loss=self.build_loss(), metrics=[metric],
            jit_compile=self.config.train.jit_compile,
        )
        optimizers["optimizer"].build(model.trainable_variables)

    def training_targets(self, dataset, model):
        """`dataset` of (images, labels) batches as what `model` (built by `build_model`)
        trains against with `model.fit`."""
        return dataset

    # --- after training ------------------------------------------------------------

    def segmentation_network(self, model):
        """The segmentation network inside the trained `model` (its own layers, not a copy):
        what the BatchNorm policy applies to."""
        return model

    def inference_model(self, model):
        """The network to evaluate and export: images -> logits."""
        return kseg.models.inference_model(model)

    def saved_parts(self, model):
        """{result key: (file name, model)}: parts saved next to `model.keras`."""
        return {}

    def test_time_options(self):
        """Keyword arguments of `kseg.inference.predict` for the run's own evaluation."""
        return {}


def parameter_count(model):
    """Number of scalars in `model`'s weights (trainable and not)."""
    return int(sum(keras.ops.size(w) for w in model.weights))
