"""Input normalisation inside the model: models take RGB in [0, 255]."""

import keras
import tensorflow as tf

# keras.applications' "caffe" preprocessing (VGG16, ResNet50/101 v1): BGR, mean subtracted, no scaling.
IMAGENET_CAFFE_MEAN_RGB = (123.68, 116.779, 103.939)
# torchvision / timm preprocessing: RGB / 255, then ImageNet mean and std; in 0-255 units here.
IMAGENET_TORCH_MEAN_RGB = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_TORCH_STD_RGB = (0.229 * 255, 0.224 * 255, 0.225 * 255)
# name -> ImageNormalization arguments: the preprocessing a backbone's pretrained weights expect
PREPROCESSING = {
    "caffe": dict(mean=IMAGENET_CAFFE_MEAN_RGB, std=(1.0, 1.0, 1.0), to_bgr=True),
    "torch": dict(mean=IMAGENET_TORCH_MEAN_RGB, std=IMAGENET_TORCH_STD_RGB, to_bgr=False),
}


@keras.saving.register_keras_serializable(package="kseg")
class ImageNormalization(keras.layers.Layer):
    """Subtract a per-channel mean, divide by a std and optionally reorder RGB to BGR.

    The defaults reproduce `keras.applications.resnet.preprocess_input` and
    `keras.applications.vgg16.preprocess_input` ("caffe" mode), the preprocessing the
    ImageNet weights of those backbones were trained with, so a kseg backbone fed raw
    RGB matches the `keras.applications` model fed preprocessed input.

    Args:
        mean: 3 floats. Per-channel mean in RGB order, in input units (0-255).
            Defaults to the ImageNet mean (123.68, 116.779, 103.939).
        std: 3 floats. Per-channel std in RGB order. Defaults to (1, 1, 1).
        to_bgr: bool. Reverse the channel order after normalising. Defaults to True.

    Input shape: `(batch, height, width, 3)`, RGB with values in [0, 255] (any dtype).
    Output shape: same, float.
    """

    def __init__(self, mean=IMAGENET_CAFFE_MEAN_RGB, std=(1.0, 1.0, 1.0), to_bgr=True, **kwargs):
        super().__init__(**kwargs)
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f"Expected 3 values for mean and std. Received: mean={mean}, std={std}")
        if any(float(s) <= 0 for s in std):
            raise ValueError(f"Expected std > 0. Received: std={std}")
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.to_bgr = bool(to_bgr)

    def build(self, input_shape):
        if input_shape[-1] != 3:
            raise ValueError(
                f"Expected RGB images with 3 channels. Received: input_shape={tuple(input_shape)}"
            )

    def call(self, inputs):
        x = tf.cast(inputs, self.compute_dtype)
        x = (x - tf.constant(self.mean, x.dtype)) / tf.constant(self.std, x.dtype)
        if self.to_bgr:
            x = tf.reverse(x, axis=[-1])
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mean": list(self.mean), "std": list(self.std), "to_bgr": self.to_bgr}
