"""Adversarial training of a segmentation network: `SegGAN` and `SSGAN`.

One `keras.Model` holds the segmentation network (`generator`, S of Seg-GAN, g of SS-GAN)
and the discriminator and overrides `train_step`: per batch, one update of S through
`optimizer` (the generator optimiser) and then one update of D through `d_optimizer`
(Seg-GAN §4.2: D is updated once per S update). `call` runs S alone, so `predict`,
evaluation and export see a plain segmentation model; `model.generator` is that model.
"""

import keras
import tensorflow as tf

from kseg.losses import IGNORE_LABEL, MaskedSparseCategoricalCrossentropy, confidence_map_loss
from kseg.metrics import ConfusionMatrixMetric
from kseg.models.common import check_model_kwargs, check_num_classes
from kseg.models.deeplab.model import DeepLabV2
from kseg.models.gan.discriminators import SegGANDiscriminator, SSGANDiscriminator
from kseg.models.gan.generators import SSGANGenerator
from kseg.models.registry import register_architecture

from kseg.models.gan.config import ADVERSARIAL_LOSSES, DISCRIMINATOR_LOSSES
from kseg.constructor_config import without_weight_sources


def label_maps(labels, probabilities, num_classes, ignore_label=IGNORE_LABEL):
    """The discriminator's two inputs for a batch and the mask of labelled pixels.

    Args:
        labels: (B, H, W) int ground truth with `ignore_label` where unlabelled.
        probabilities: (B, H, W, C) float, softmax of the segmentation network.

    Returns:
        real (B, H, W, C) one-hot ground truth, fake (B, H, W, C) probabilities, both
        zero at ignored pixels; valid (B, H, W, 1) float32 1 where labelled.
    """
    labels = tf.cast(labels, tf.int32)
    valid = tf.cast(tf.not_equal(labels, ignore_label), tf.float32)[..., None]
    real = tf.one_hot(tf.where(labels == ignore_label, 0, labels), num_classes) * valid
    fake = tf.cast(probabilities, tf.float32) * valid
    return real, fake, valid


def cell_weights(valid, confidence_logits):
    """Share of labelled pixels under each confidence-map cell: `valid` (B, H, W, 1)
    area-resized to the map's (h, w). Cells over ignored pixels only get weight 0."""
    return tf.image.resize(valid, tf.shape(confidence_logits)[1:3], method="area")


# `AdversarialSegmenter` arguments that SegGAN and SSGAN take through **kwargs.
LOSS_ARGUMENTS = ("lambda_adv", "adversarial_loss", "d_loss", "focal_gamma", "ignore_label")


def check_arguments(cls, num_classes, options):
    """Refuse a bad argument of an adversarial model by name, before its networks are built
    (seconds at full size). `options`: the keyword arguments given, of `LOSS_ARGUMENTS` and
    keras.Model's own (`name`, `trainable`, `dtype`)."""
    check_num_classes(num_classes)
    check_model_kwargs(cls, {k: v for k, v in options.items() if k not in LOSS_ARGUMENTS})
    if float(options.get("lambda_adv", 0.0)) < 0:
        raise ValueError(f"Expected lambda_adv >= 0. Received: lambda_adv={options['lambda_adv']}")
    if options.get("adversarial_loss", ADVERSARIAL_LOSSES[0]) not in ADVERSARIAL_LOSSES:
        raise ValueError(f"Expected adversarial_loss in {ADVERSARIAL_LOSSES}. Received: {options['adversarial_loss']!r}")
    if options.get("d_loss", DISCRIMINATOR_LOSSES[0]) not in DISCRIMINATOR_LOSSES:
        raise ValueError(f"Expected d_loss in {DISCRIMINATOR_LOSSES}. Received: {options['d_loss']!r}")


@keras.saving.register_keras_serializable(package="kseg")
class AdversarialSegmenter(keras.Model):
    """A segmentation network trained against a fully convolutional discriminator.

    Losses (means where the papers write sums, so that lambda keeps the meaning it has in
    the mean-reduced implementations these papers follow, e.g. Hung et al. 2018):
    - Discriminator, Seg-GAN eq. 1 / SS-GAN eq. 6:
      `L_D = BCE(D(Y, X), 1) + BCE(D(S(X), X), 0)`, each a mean over the confidence map
      weighted by the share of labelled pixels per cell. `d_loss="focal"` multiplies each
      cell's term by `(1 - p_t)^focal_gamma` (Seg-GAN §1's focal loss on the map).
    - Segmentation network, Seg-GAN eq. 2-4: `L_seg = L_ce + lambda * L_adv` with
      `L_ce` the cross-entropy over labelled pixels (or the segmentation loss given to
      `compile`, e.g. OHEM, Dice or a weighted sum: eq. 2's first term is a segmentation
      loss) and
      `L_adv = BCE(D(S(X), X), 1) = -mean log D(S(X))` (eq. 4: this is the non-saturating
      form of Goodfellow et al.), or with `adversarial_loss="minimax"` the original
      `L_adv = -BCE(D(S(X), X), 0) = mean log(1 - D(S(X)))`.
    Ignored pixels (label 255) are zero vectors in both label maps given to D and are left
    out of every loss, so S's output there changes nothing.

    Under `tf.distribute` each replica's loss is divided by the number of replicas before
    its gradient (the strategy sums gradients over replicas).

    Args:
        generator: keras.Model, images (B, H, W, 3) in [0, 255] -> logits (B, H, W, C).
        discriminator: keras.Model, `[label_map, image]` -> confidence logits (B, h, w, 1).
        num_classes: int >= 2.
        lambda_adv: float >= 0. Weight of L_adv. Defaults to 0.01 (Seg-GAN Table 2).
        adversarial_loss: "non_saturating" (eq. 4) or "minimax". Defaults to "non_saturating".
        d_loss: "bce" (eq. 1) or "focal". Defaults to "bce".
        focal_gamma: float. Defaults to 2.0.
        ignore_label: int. Defaults to 255.

    Compile with `compile(g_optimizer=..., d_optimizer=..., segmentation_loss=None)`.
    Metrics: `loss` (L_seg), `ce_loss` (the segmentation term), `adv_loss`, `d_loss`, `d_real_accuracy`, `d_fake_accuracy` (share of
    confidence cells D classifies right), `mean_iou` of S.
    """

    def __init__(
        self,
        generator,
        discriminator,
        num_classes,
        lambda_adv=0.01,
        adversarial_loss="non_saturating",
        d_loss="bce",
        focal_gamma=2.0,
        ignore_label=IGNORE_LABEL,
        **kwargs,
    ):
        losses = dict(lambda_adv=lambda_adv, adversarial_loss=adversarial_loss, d_loss=d_loss)
        check_arguments(type(self), num_classes, {**losses, **kwargs})
        super().__init__(**kwargs)
        for name, net in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(net, keras.Model):
                raise ValueError(f"Expected {name} to be a keras.Model. Received: {type(net).__name__}")
        self.generator = generator
        self.discriminator = discriminator
        self.num_classes = num_classes
        self.lambda_adv = float(lambda_adv)
        self.adversarial_loss = adversarial_loss
        self.d_loss = d_loss
        self.focal_gamma = float(focal_gamma)
        self.ignore_label = int(ignore_label)
        self.d_optimizer = None
        self.segmentation_loss = MaskedSparseCategoricalCrossentropy(ignore_label=self.ignore_label)
        self._trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("loss", "ce_loss", "adv_loss", "d_loss", "d_real_accuracy", "d_fake_accuracy")
        }
        self.iou = ConfusionMatrixMetric(num_classes, ignore_label=self.ignore_label, name="mean_iou")
        self.built = generator.built and discriminator.built

    def call(self, images, training=False):
        return self.generator(images, training=training)

    def inference_model(self):
        """The segmentation network S (what is evaluated and deployed)."""
        return self.generator

    def compile(self, g_optimizer=None, d_optimizer=None, jit_compile=False, segmentation_loss=None, **kwargs):
        """Args: g_optimizer for the segmentation network (also `model.optimizer`),
        d_optimizer for the discriminator, both built here on their network's variables;
        segmentation_loss: a Keras loss of (labels `(B, H, W)`, logits `(B, H, W, C)`) as
        the first term of L_seg (default: cross-entropy over the pixels not `ignore_label`)."""
        if g_optimizer is None or d_optimizer is None:
            raise ValueError("compile() needs both g_optimizer and d_optimizer")
        if segmentation_loss is not None:
            self.segmentation_loss = keras.losses.get(segmentation_loss)
        super().compile(optimizer=g_optimizer, jit_compile=jit_compile, **kwargs)
        self.d_optimizer = keras.optimizers.get(d_optimizer)
        # Keras wraps only `optimizer` for mixed_float16; D's float16 gradients need the same.
        if (
            kwargs.get("auto_scale_loss", True)
            and self.dtype_policy.name == "mixed_float16"
            and not isinstance(self.d_optimizer, keras.optimizers.LossScaleOptimizer)
        ):
            self.d_optimizer = keras.optimizers.LossScaleOptimizer(self.d_optimizer, name="d_loss_scale_optimizer")
        # Built on their own variables now: under a strategy, lazily built slots fail.
        self.optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {
            "g_optimizer": keras.saving.serialize_keras_object(self.optimizer),
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "segmentation_loss": keras.saving.serialize_keras_object(self.segmentation_loss),
        }

    def compile_from_config(self, config):
        if config:
            self.compile(
                g_optimizer=keras.saving.deserialize_keras_object(config["g_optimizer"]),
                d_optimizer=keras.saving.deserialize_keras_object(config["d_optimizer"]),
                segmentation_loss=keras.saving.deserialize_keras_object(config["segmentation_loss"])
                if "segmentation_loss" in config else None,  # files saved before it existed: the cross-entropy
            )

    @property
    def metrics(self):
        return [*self._trackers.values(), self.iou]

    def _adversarial_terms(self, labels, logits, images):
        """L_ce, L_adv (generator side) and the discriminator's inputs and cell weights."""
        images = tf.convert_to_tensor(images)
        probabilities = tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)
        real, fake, valid = label_maps(labels, probabilities, self.num_classes, self.ignore_label)
        fake_logits = self.discriminator([fake, images], training=False)
        weights = cell_weights(valid, fake_logits)
        # a Keras loss returns this replica's share of the batch mean under tf.distribute
        ce = self.segmentation_loss(labels, logits) * tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, tf.float32)
        if self.adversarial_loss == "non_saturating":
            adv = confidence_map_loss(fake_logits, 1.0, weights)
        else:
            adv = -confidence_map_loss(fake_logits, 0.0, weights)
        return ce, adv, real, fake, weights

    def _discriminator_terms(self, real, fake, images, weights, training):
        gamma = self.focal_gamma if self.d_loss == "focal" else 0.0
        images = tf.convert_to_tensor(images)
        real_logits = self.discriminator([real, images], training=training)
        fake_logits = self.discriminator([fake, images], training=training)
        d_loss = confidence_map_loss(real_logits, 1.0, weights, gamma) + confidence_map_loss(
            fake_logits, 0.0, weights, gamma
        )
        total = tf.maximum(tf.reduce_sum(weights), 1e-6)
        real_acc = tf.reduce_sum(tf.cast(real_logits > 0, tf.float32) * weights) / total
        fake_acc = tf.reduce_sum(tf.cast(fake_logits < 0, tf.float32) * weights) / total
        return d_loss, real_acc, fake_acc

    def train_step(self, data):
        images, labels = data[0], data[1]
        replicas = tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, tf.float32)
        g_vars = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.generator(images, training=True)
            ce, adv, real, fake, weights = self._adversarial_terms(labels, logits, images)
            seg_loss = ce + self.lambda_adv * adv
            scaled = self.optimizer.scale_loss(seg_loss / replicas)
        self.optimizer.apply(tape.gradient(scaled, g_vars), g_vars)

        # D sees the prediction made before S's update, detached (one D step per S step).
        fake = tf.stop_gradient(fake)
        d_vars = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            d_loss, real_acc, fake_acc = self._discriminator_terms(real, fake, images, weights, training=True)
            scaled = self.d_optimizer.scale_loss(d_loss / replicas)
        self.d_optimizer.apply(tape.gradient(scaled, d_vars), d_vars)
        return self._update_metrics(labels, logits, seg_loss, ce, adv, d_loss, real_acc, fake_acc)

    def test_step(self, data):
        images, labels = data[0], data[1]
        logits = self.generator(images, training=False)
        ce, adv, real, fake, weights = self._adversarial_terms(labels, logits, images)
        d_loss, real_acc, fake_acc = self._discriminator_terms(real, fake, images, weights, training=False)
        return self._update_metrics(labels, logits, ce + self.lambda_adv * adv, ce, adv, d_loss, real_acc, fake_acc)

    def _update_metrics(self, labels, logits, seg_loss, ce, adv, d_loss, real_acc, fake_acc):
        values = dict(
            loss=seg_loss, ce_loss=ce, adv_loss=adv, d_loss=d_loss, d_real_accuracy=real_acc, d_fake_accuracy=fake_acc
        )
        for name, value in values.items():
            self._trackers[name].update_state(value)
        self.iou.update_state(labels, logits)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "num_classes": self.num_classes,
            "lambda_adv": self.lambda_adv,
            "adversarial_loss": self.adversarial_loss,
            "d_loss": self.d_loss,
            "focal_gamma": self.focal_gamma,
            "ignore_label": self.ignore_label,
        }

    @classmethod
    def from_config(cls, config):
        config = without_weight_sources(config)
        for key in ("generator", "discriminator"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


@register_architecture("seggan")
@keras.saving.register_keras_serializable(package="kseg")
class SegGAN(AdversarialSegmenter):
    """Seg-GAN (Zhao et al.): S = DeepLab-v2 ResNet-101 with ASPP and no CRF (§3.1),
    D = `SegGANDiscriminator` (five stride-2 convs with four cascaded ConvCRFs, §3.2),
    `L_seg = L_ce + 0.01 L_adv` (eq. 2-4, Table 2).

    Args:
        num_classes: int >= 2.
        backbone: S's backbone, "resnet101" (the paper's) or "resnet50"/"vgg16". Defaults to "resnet101".
        aspp: S's ASPP, as `DeepLabV2`. Defaults to "L".
        output_stride: S's output stride. Defaults to 8 (the paper's).
        backbone_weights: None, "imagenet" or a path. Defaults to None.
        crf_modules: int. ConvCRFs in D. Defaults to 4.
        generator, discriminator: keras.Models replacing the defaults (then the arguments
            above are not used for that network). Defaults to None.
        generator_options: dict of further `DeepLabV2` arguments (e.g. `dropout_rate`).
            Defaults to None.
        discriminator_options: dict of further `SegGANDiscriminator` arguments (e.g.
            `crf_filter_size`). Defaults to None.
        **kwargs: `lambda_adv`, `adversarial_loss`, `d_loss`, `focal_gamma`, `ignore_label`,
            `name` (see `AdversarialSegmenter`).

    Example:
    >>> gan = SegGAN(num_classes=21, lambda_adv=0.01)
    >>> gan.compile(g_optimizer=keras.optimizers.SGD(2.5e-4, momentum=0.9, nesterov=True),
    ...             d_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.9, beta_2=0.999))
    >>> gan.fit(dataset)                      # (images, labels) batches
    >>> gan.generator.save("segmenter.keras")  # S alone, for evaluation and export
    """

    BACKBONES = DeepLabV2.BACKBONES  # the names `backbone=` takes (S is DeepLab v2)

    def __init__(
        self,
        num_classes,
        backbone="resnet101",
        aspp="L",
        output_stride=8,
        backbone_weights=None,
        crf_modules=4,
        generator=None,
        discriminator=None,
        generator_options=None,
        discriminator_options=None,
        **kwargs,
    ):
        check_arguments(type(self), num_classes, kwargs)
        if generator is None:
            generator = DeepLabV2(
                num_classes,
                backbone=backbone,
                aspp=aspp,
                output_stride=output_stride,
                backbone_weights=backbone_weights,
                **(generator_options or {}),
            )
        if discriminator is None:
            discriminator = SegGANDiscriminator(num_classes, crf_modules=crf_modules, **(discriminator_options or {}))
        kwargs.setdefault("name", "seg_gan")
        super().__init__(generator, discriminator, num_classes, **kwargs)


@register_architecture("ssgan")
@keras.saving.register_keras_serializable(package="kseg")
class SSGAN(AdversarialSegmenter):
    """SS-GAN (Liu): generator VGG16-G or ResNet50-G (Table 1, `SSGANGenerator`), the
    adversarial model on (label map, image) pairs (Table 2, `SSGANDiscriminator`); D is
    trained on `BCE(1, d(y, x)) + BCE(0, d(g(x), x))` (eq. 6) and g on the multi-class
    cross-entropy plus `lambda` times the adversarial term (eq. 3-5).

    The weight of the adversarial term is not legible in the available text; the default
    0.1 is inferred from Luc et al. 2016, whose loss SS-GAN follows.

    Args:
        num_classes: int >= 2.
        generator: "resnet50" or "vgg16", or a keras.Model. Defaults to "resnet50".
        fusion: "product" or "concat" (see `SSGANDiscriminator`). Defaults to "product".
        output_stride: generator output stride, None for the table's. Defaults to None.
        backbone_weights: None, "imagenet" or a path. Defaults to None.
        discriminator: keras.Model replacing the default. Defaults to None.
        lambda_adv: float. Defaults to 0.1.
        generator_options: dict of further `SSGANGenerator` arguments. Defaults to None.
        discriminator_options: dict of further `SSGANDiscriminator` arguments. Defaults to None.
        **kwargs: see `AdversarialSegmenter`.

    Example:
    >>> gan = SSGAN(num_classes=21, generator="resnet50")
    """

    BACKBONES = SSGANGenerator.BACKBONES  # the names `generator=` takes
    BACKBONE_ARGUMENT = "generator"  # the constructor argument `model.backbone` sets

    def __init__(
        self,
        num_classes,
        generator="resnet50",
        fusion="product",
        output_stride=None,
        backbone_weights=None,
        discriminator=None,
        lambda_adv=0.1,
        generator_options=None,
        discriminator_options=None,
        **kwargs,
    ):
        check_arguments(type(self), num_classes, {"lambda_adv": lambda_adv, **kwargs})
        if isinstance(generator, str):
            generator = SSGANGenerator(
                num_classes,
                backbone=generator,
                output_stride=output_stride,
                backbone_weights=backbone_weights,
                **(generator_options or {}),
            )
        if discriminator is None:
            discriminator = SSGANDiscriminator(num_classes, fusion=fusion, **(discriminator_options or {}))
        kwargs.setdefault("name", "ss_gan")
        super().__init__(generator, discriminator, num_classes, lambda_adv=lambda_adv, **kwargs)
