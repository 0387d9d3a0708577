"""Fully convolutional discriminators of Seg-GAN and SS-GAN.

Both take `[label_map, image]` and return a confidence map of logits, so the adversarial
trainer (`kseg.models.gan.adversarial`) treats them alike:

- label_map: `(B, H, W, C)` float, class probabilities (softmax of the segmentation
  network) or a one-hot ground truth; pixels with the ignore label are all-zero vectors
  in both, so D cannot tell real from fake by them.
- image: `(B, H, W, 3)` RGB in [0, 255].
- output: `(B, h, w, 1)` float32 logits; D(.) of the papers is `sigmoid(logits)`, the
  probability that the label map is a ground truth. `h, w` follow the input size.
"""

import keras
import tensorflow as tf

from kseg.layers.crf.convcrf import ConvCRF
from kseg.models.common import ConstructorConfigModel, check_model_kwargs, check_num_classes

_LOG_FLOOR = 1e-6  # log(0) of a one-hot ground truth becomes log(1e-6) ~ -13.8


@keras.saving.register_keras_serializable(package="kseg")
class LogProbabilities(keras.layers.Layer):
    """`log(max(p, 1e-6))`: a probability map as the unary logits a CRF takes."""

    def call(self, probabilities):
        return tf.math.log(tf.maximum(tf.cast(probabilities, tf.float32), _LOG_FLOOR))


@keras.saving.register_keras_serializable(package="kseg")
class ScaleImage(keras.layers.Layer):
    """RGB [0, 255] -> [-1, 1], the image input of a discriminator."""

    def call(self, image):
        return tf.cast(image, tf.float32) / 127.5 - 1.0


@keras.saving.register_keras_serializable(package="kseg")
class ProductFusion(keras.layers.Layer):
    """Luc et al. 2016's "product" fusion: the image multiplied by each class channel of
    the label map, `(B, H, W, C)` x `(B, H, W, 3)` -> `(B, H, W, 3 C)` (channel c*3 + k
    is label channel c times colour k)."""

    def call(self, inputs):
        labels, image = inputs
        fused = labels[..., :, None] * image[..., None, :]
        shape = tf.shape(fused)
        return tf.reshape(fused, tf.concat([shape[:3], [shape[3] * 3]], axis=0))

    def compute_output_shape(self, input_shapes):
        labels = input_shapes[0]
        return (*labels[:3], None if labels[3] is None else labels[3] * 3)


@keras.saving.register_keras_serializable(package="kseg")
class SegGANDiscriminator(ConstructorConfigModel):
    """Seg-GAN's discriminator D (Zhao et al., §3.2): cascaded ConvCRFs, then five 3x3
    stride-2 convolutions with {64, 128, 256, 512, 1} channels, LeakyReLU(0.2) after all
    but the last; fully convolutional, so the output is a confidence map at 1/32 of the
    input size (ceil), not a scalar.

    Where the ConvCRFs sit is not stated in the paper ("We first use 4 ConvCRF modules
    cascaded with the full convolutional networks"). Here they come *first*, on the label
    map: a ConvCRF needs a class distribution and a guidance image, and only the input of
    D is one (the conv features are not). Each module is one mean-field step
    (`num_iterations=1`) with learnable kernel weights and compatibility, guided by the
    RGB image; module k takes `log` of module k-1's output as its unary. So D judges a
    label map after edge-aware smoothing, as the paper's aim ("improve the details")
    suggests. `crf_modules=0` gives the plain conv discriminator (Hung et al. 2018) for
    ablation. As in eq. 1, the conv stack sees the label map only (`D(S(X))`, `D(Y)`);
    `condition_on_image=True` also concatenates the image scaled to [-1, 1].

    Args:
        num_classes: int >= 2. Channels of the label map.
        filters: tuple of ints. Channels of the stride-2 convs; the last must be 1.
            Defaults to (64, 128, 256, 512, 1).
        negative_slope: float. LeakyReLU slope. Defaults to 0.2.
        crf_modules: int >= 0. Cascaded ConvCRF modules. Defaults to 4.
        crf_filter_size: odd int. ConvCRF window. Defaults to 7.
        crf_blur: int. ConvCRF downsampling. Defaults to 4.
        crf_iterations: int. Mean-field steps per module. Defaults to 1.
        condition_on_image: bool. Defaults to False.
        input_shape: (H, W) or None sides. Defaults to (None, None).

    Call arguments: `[label_map (B, H, W, C), image (B, H, W, 3)]`.
    Output: `(B, ceil(H / 32), ceil(W / 32), 1)` float32 logits.

    Example:
    >>> d = SegGANDiscriminator(num_classes=21)
    >>> d([keras.ops.ones((2, 320, 320, 21)) / 21, keras.ops.zeros((2, 320, 320, 3))]).shape
    TensorShape([2, 10, 10, 1])
    """

    def __init__(
        self,
        num_classes,
        filters=(64, 128, 256, 512, 1),
        negative_slope=0.2,
        crf_modules=4,
        crf_filter_size=7,
        crf_blur=4,
        crf_iterations=1,
        condition_on_image=False,
        input_shape=(None, None),
        **kwargs,
    ):
        check_model_kwargs(type(self), kwargs)  # before anything is built
        check_num_classes(num_classes)
        filters = tuple(int(f) for f in filters)
        if not filters or filters[-1] != 1 or min(filters) < 1:
            raise ValueError(f"Expected positive filters ending with 1. Received: filters={filters}")
        if not isinstance(crf_modules, int) or crf_modules < 0:
            raise ValueError(f"Expected an integer crf_modules >= 0. Received: crf_modules={crf_modules!r}")
        kwargs.setdefault("name", "seggan_discriminator")
        height, width = input_shape
        label_map = keras.Input((height, width, num_classes), name="label_map")
        image = keras.Input((height, width, 3), name="image")

        x = label_map
        for k in range(crf_modules):
            x = ConvCRF(
                num_iterations=crf_iterations,
                filter_size=crf_filter_size,
                blur=crf_blur,
                learnable=True,
                learnable_compatibility=True,
                name=f"convcrf_{k + 1}",
            )([LogProbabilities(name=f"unary_{k + 1}")(x), image])
        if condition_on_image:
            x = keras.layers.Concatenate(name="with_image")([x, ScaleImage(name="scale_image")(image)])
        for i, f in enumerate(filters, start=1):
            last = i == len(filters)
            x = keras.layers.Conv2D(f, 3, strides=2, padding="same", name=f"conv{i}", dtype="float32" if last else None)(x)
            if not last:
                x = keras.layers.LeakyReLU(negative_slope, name=f"leaky_relu{i}")(x)
        super().__init__(inputs=[label_map, image], outputs=x, **kwargs)

        self.num_classes = num_classes
        self.filters = filters
        self.negative_slope = float(negative_slope)
        self.crf_modules = crf_modules
        self.crf_filter_size = int(crf_filter_size)
        self.crf_blur = int(crf_blur)
        self.crf_iterations = int(crf_iterations)
        self.condition_on_image = bool(condition_on_image)


@keras.saving.register_keras_serializable(package="kseg")
class SSGANDiscriminator(ConstructorConfigModel):
    """SS-GAN's adversarial model (Liu, Table 2 / Fig. 4): judges (label map, image) pairs.

    Table 2 is only partly legible in the available text: row 1 is a convolution (its
    parameters are lost), row 2 a 2x2 stride-2 average pooling, row 3 a 3x3-256
    convolution, rows 4-5 are lost, row 6 a 3x3-1 convolution. The default fills the gaps
    by repeating the legible pattern: 3x3-128 conv, avg-pool, 3x3-256 conv, avg-pool,
    3x3-512 conv, 3x3-1 conv (rows 1-6; ReLU after each hidden conv, as in Luc et al. 2016
    on which the model is built). `filters` changes the hidden convs: each is followed by
    2x2 stride-2 average pooling except the last. Output stride: 2**(len(filters) - 1).

    The pair is fused before the convs: "product" (Luc et al. 2016: the image, scaled to
    [-1, 1], multiplied by each class channel: 3 C channels) or "concat" (label map and
    image side by side: C + 3 channels).

    Args:
        num_classes: int >= 2.
        fusion: "product" or "concat". Defaults to "product".
        filters: tuple of ints. Hidden conv widths. Defaults to (128, 256, 512).
        input_shape: (H, W) or None sides. Defaults to (None, None).

    Call arguments: `[label_map (B, H, W, C), image (B, H, W, 3)]`.
    Output: `(B, H / 4, W / 4, 1)` float32 logits with the default filters.

    Example:
    >>> d = SSGANDiscriminator(num_classes=21)
    >>> d([keras.ops.ones((1, 64, 64, 21)) / 21, keras.ops.zeros((1, 64, 64, 3))]).shape
    TensorShape([1, 16, 16, 1])
    """

    def __init__(self, num_classes, fusion="product", filters=(128, 256, 512), input_shape=(None, None), **kwargs):
        check_model_kwargs(type(self), kwargs)  # before anything is built
        check_num_classes(num_classes)
        if fusion not in ("product", "concat"):
            raise ValueError(f"Expected fusion in ('product', 'concat'). Received: fusion={fusion!r}")
        filters = tuple(int(f) for f in filters)
        if not filters or min(filters) < 1:
            raise ValueError(f"Expected a non-empty tuple of positive filters. Received: filters={filters}")
        kwargs.setdefault("name", "ssgan_discriminator")
        height, width = input_shape
        label_map = keras.Input((height, width, num_classes), name="label_map")
        image = keras.Input((height, width, 3), name="image")
        scaled = ScaleImage(name="scale_image")(image)
        if fusion == "product":
            x = ProductFusion(name="product_fusion")([label_map, scaled])
        else:
            x = keras.layers.Concatenate(name="concat_fusion")([label_map, scaled])
        for i, f in enumerate(filters, start=1):
            x = keras.layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv{i}")(x)
            if i < len(filters):
                x = keras.layers.AveragePooling2D(2, strides=2, padding="same", name=f"avg_pool{i}")(x)
        x = keras.layers.Conv2D(1, 3, padding="same", dtype="float32", name="confidence")(x)
        super().__init__(inputs=[label_map, image], outputs=x, **kwargs)
        self.num_classes = num_classes
        self.fusion = fusion
        self.filters = filters
