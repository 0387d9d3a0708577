"""VGG-16 adapted for dense prediction as DeepLab-LargeFOV (DeepLab v2 §3.1, §4.1.1)."""

import keras

from kseg.backbones.common import check_input_shape, check_model_kwargs, check_output_stride, stage_strides_and_rates
from kseg.backbones.weights import decimate_vgg_fc, load_backbone_weights
from kseg.constructor_config import ConstructorConfigModel
from kseg.layers.conv_block import ConvBNActivation
from kseg.layers.preprocessing import ImageNormalization


VGG16_BLOCKS = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))


@keras.saving.register_keras_serializable(package="kseg")
class VGG16Backbone(ConstructorConfigModel):
    """VGG-16 with DeepLab-LargeFOV's changes.

    At output stride 8 (the default): pool4 and pool5 have stride 1 (3x3 windows,
    "same" padding), conv5_x are atrous with rate 2, and the fully connected layers
    become fc6 = 3x3 atrous conv with rate 12 and 1024 filters and fc7 = 1x1 conv with
    1024 filters, each followed by ReLU and dropout 0.5. At output stride 16 only pool5
    loses its stride; at 32 none does. Strided pools are 3x3 / stride 2 / "same" as in
    DeepLab's Caffe model; `pool_size=2` gives keras.applications' 2x2 pools instead, so
    that at output stride 32 the features equal `keras.applications.VGG16`'s.

    Outputs a dict keyed by nominal stride: `P1`..`P5` are the outputs of pool1..pool5
    (64, 128, 256, 512, 512 channels), and `fc7` (1024 channels) when `include_fc`.

    Args:
        output_stride: 8, 16 or 32. Defaults to 8.
        include_fc: bool. Add fc6/fc7. Defaults to True.
        fc_filters: int. Width of fc6 and fc7. Defaults to 1024.
        fc_rate: int. Atrous rate of fc6. Defaults to 12 (LargeFOV).
        fc_kernel_size: int. Kernel side of fc6: 3 (LargeFOV's decimated fc6) or 7 (the
            full ImageNet fc1 as a convolution, FCN-style, used by SS-GAN's VGG16-G).
            Defaults to 3.
        dropout_rate: float. Dropout after fc6 and fc7. Defaults to 0.5.
        pool_size: 2 or 3. Window of the strided max pools. Defaults to 3.
        weights: None, "imagenet", or a path. ImageNet fc6/fc7 come from VGG16's
            fc1/fc2 by decimation (see `decimate_vgg_fc`). Defaults to None.
        include_preprocessing: bool. Normalise RGB 0-255 input inside. Defaults to True.
        input_shape: tuple. Defaults to (None, None, 3).
        blocks: (convs, filters) for each of the five stages. Defaults to VGG-16's; smaller
            widths make the tiny backbones the tests use (ImageNet weights need the default).
    """

    def __init__(
        self,
        output_stride=8,
        include_fc=True,
        fc_filters=1024,
        fc_rate=12,
        fc_kernel_size=3,
        dropout_rate=0.5,
        pool_size=3,
        weights=None,
        include_preprocessing=True,
        input_shape=(None, None, 3),
        blocks=VGG16_BLOCKS,
        **kwargs,
    ):
        check_model_kwargs(type(self), kwargs)  # before anything is built
        output_stride = check_output_stride(output_stride)
        blocks = tuple((int(convs), int(filters)) for convs, filters in blocks)
        if len(blocks) != 5 or min(min(b) for b in blocks) < 1:
            raise ValueError(f"Expected 5 positive (convs, filters) blocks. Received: blocks={blocks}")
        input_shape = check_input_shape(input_shape)
        if fc_kernel_size not in (3, 7):
            raise ValueError(f"Expected fc_kernel_size in (3, 7). Received: fc_kernel_size={fc_kernel_size}")
        if pool_size not in (2, 3):
            raise ValueError(f"Expected pool_size in (2, 3). Received: pool_size={pool_size}")
        kwargs.setdefault("name", "vgg16")

        inputs = keras.Input(shape=input_shape, name="images")
        x = ImageNormalization(name="preprocessing")(inputs) if include_preprocessing else inputs
        plan = [(2, 1)] + stage_strides_and_rates(4, 2, output_stride)
        features = {}
        rate = 1
        for block, ((convs, filters), (stride, pool_rate)) in enumerate(zip(blocks, plan), start=1):
            for i in range(1, convs + 1):
                x = keras.layers.Conv2D(
                    filters, 3, padding="same", dilation_rate=rate, activation="relu", name=f"block{block}_conv{i}"
                )(x)
            if stride == 2:
                x = keras.layers.MaxPooling2D(
                    pool_size, 2, padding="valid" if pool_size == 2 else "same", name=f"block{block}_pool"
                )(x)
            else:
                x = keras.layers.MaxPooling2D(3, 1, padding="same", name=f"block{block}_pool")(x)
            rate = pool_rate if stride == 1 else rate
            features[f"P{block}"] = x
        if include_fc:
            x = ConvBNActivation(fc_filters, fc_kernel_size, fc_rate, activation="relu", name="fc6")(x)
            x = keras.layers.Dropout(dropout_rate, name="drop6")(x)
            x = ConvBNActivation(fc_filters, 1, activation="relu", name="fc7")(x)
            x = keras.layers.Dropout(dropout_rate, name="drop7")(x)
            features["fc7"] = x
        super().__init__(inputs=inputs, outputs=features, **kwargs)

        self.output_stride = output_stride
        self.include_fc = bool(include_fc)
        self.fc_filters = int(fc_filters)
        self.fc_rate = int(fc_rate)
        self.fc_kernel_size = int(fc_kernel_size)
        self.dropout_rate = float(dropout_rate)
        self.pool_size = int(pool_size)
        self.include_preprocessing = bool(include_preprocessing)
        if weights is not None:
            self._load(weights)

    def _load(self, weights):
        def application(w):
            return keras.applications.VGG16(
                include_top=self.include_fc, weights=w, input_shape=(224, 224, 3) if self.include_fc else None
            )

        fc = ("fc6", "fc7") if self.include_fc else ()
        source = load_backbone_weights(self, weights, application, skip=fc)
        if fc:
            fc6_k, fc6_b, fc7_k, fc7_b = decimate_vgg_fc(
                *source.get_layer("fc1").get_weights(), *source.get_layer("fc2").get_weights(),
                kernel_size=self.fc_kernel_size,
                filters=self.fc_filters,
            )
            self.get_layer("fc6").set_weights([fc6_k, fc6_b])
            self.get_layer("fc7").set_weights([fc7_k, fc7_b])


def VGG16(output_stride=8, include_fc=True, weights=None, **kwargs):
    """VGG-16 DeepLab-LargeFOV backbone; see `VGG16Backbone`."""
    return VGG16Backbone(output_stride=output_stride, include_fc=include_fc, weights=weights, **kwargs)
