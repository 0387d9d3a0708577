"""Argument and input checks shared by the CRF layers."""

import tensorflow as tf

# Mean-field inference runs in float32 under any mixed precision policy: its normalised
# kernels and exponentials lose too much in float16/bfloat16, and it is memory-bound anyway.
CRF_DTYPE = "float32"


def check_positive(**values):
    for name, value in values.items():
        if not float(value) > 0:
            raise ValueError(f"Expected {name} > 0. Received: {name}={value}")


def check_iterations(num_iterations):
    if not isinstance(num_iterations, int) or isinstance(num_iterations, bool) or num_iterations < 1:
        raise ValueError(f"Expected an integer num_iterations >= 1. Received: num_iterations={num_iterations!r}")
    return num_iterations


def check_crf_input_shapes(layer_name, input_shape):
    """Static checks of `[logits_shape, image_shape]`; returns the number of classes."""
    if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
        raise ValueError(f"{layer_name} is called on [logits, image]. Received input_shape={input_shape}")
    logits_shape, image_shape = (tuple(s) for s in input_shape)
    if len(logits_shape) != 4 or len(image_shape) != 4:
        raise ValueError(
            f"{layer_name} expects logits (B, H, W, C) and image (B, H, W, 3). "
            f"Received logits {logits_shape} and image {image_shape}"
        )
    if image_shape[-1] != 3:
        raise ValueError(f"{layer_name} expects an RGB image with 3 channels. Received image shape {image_shape}")
    num_classes = logits_shape[-1]
    if num_classes is None or num_classes < 2:
        raise ValueError(f"{layer_name} needs logits with a known number of classes >= 2. Received logits {logits_shape}")
    for axis, name in ((1, "height"), (2, "width")):
        a, b = logits_shape[axis], image_shape[axis]
        if a is not None and b is not None and a != b:
            raise ValueError(
                f"{layer_name}: logits and image differ in {name} ({a} vs {b}); the unary must be at the image's size. "
                f"Received logits {logits_shape} and image {image_shape}"
            )
    return num_classes


def assert_same_spatial_size(layer_name, logits, image):
    """Run-time check for shapes unknown when the graph was built."""
    return tf.debugging.assert_equal(
        tf.shape(logits)[1:3],
        tf.shape(image)[1:3],
        message=f"{layer_name}: logits and image must have the same height and width",
    )
