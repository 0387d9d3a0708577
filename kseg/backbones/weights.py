"""Loading pretrained weights into kseg backbones.

`weights="imagenet"` builds the matching `keras.applications` model with its ImageNet
weights and copies them layer by layer (same layer names, same shapes) into the kseg
backbone; dilation changes no kernel shape, so a dilated backbone takes the weights of the
undilated classifier as DeepLab §3.1 does. `weights=<path>` loads either kseg's own
`.weights.h5` file or a `keras.applications` weight file (`*.h5`, e.g.
`resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5`) for machines without internet.
"""

import os
import warnings

import keras
import numpy as np


def transfer_weights_by_name(source, target, skip=()):
    """Copy the weights of every layer of `source` into the layer of `target` with the same name.

    Layers whose weight shapes differ (e.g. the first block after a deep stem) are left
    as they are and reported.

    Args:
        source: keras.Model providing the weights.
        target: keras.Model receiving them.
        skip: names of target layers not to touch.

    Returns:
        (copied, mismatched, missing): lists of target layer names that received weights,
        that exist in the source with other shapes, and that have weights but no source.
    """
    source_layers = {layer.name: layer for layer in leaf_layers(source)}
    copied, mismatched, missing = [], [], []
    for layer in leaf_layers(target):
        if not layer.weights or layer.name in skip:
            continue
        src = source_layers.get(layer.name)
        if src is None or not src.weights:
            missing.append(layer.name)
            continue
        values = src.get_weights()
        if [v.shape for v in values] != [tuple(w.shape) for w in layer.weights]:
            mismatched.append(layer.name)
            continue
        layer.set_weights(values)
        copied.append(layer.name)
    return copied, mismatched, missing


def leaf_layers(model):
    """`model`'s layers, with nested models replaced by their own layers (recursively)."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from leaf_layers(layer)
        else:
            yield layer


def load_backbone_weights(backbone, weights, application_fn, allowed_missing=(), skip=()):
    """Load `weights` (None, "imagenet" or a file path) into `backbone`.

    Args:
        backbone: the kseg backbone (a keras.Model).
        weights: None, "imagenet", or the path of a weight file of the matching
            keras.applications model.
        application_fn: callable(weights) building the matching keras.applications model.
        allowed_missing: target layer names that are expected to have no source (e.g. a
            deep stem); they are reported in a warning instead of an error.
        skip: target layer names the caller fills itself from the source model.

    Returns:
        The keras.applications model the weights came from (None when `weights` is None).
    """
    if weights is None:
        return None
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"Expected weights=None, 'imagenet' or a file path. Received: weights={weights!r}")
    weights = os.fspath(weights)
    if weights.endswith(".safetensors"):
        raise ValueError(
            f"weights={weights!r}: timm checkpoints (.safetensors) load into the ResNet backbones only; "
            f"{backbone.name} takes None, 'imagenet' or a Keras weights file"
        )
    if weights != "imagenet" and not os.path.exists(weights):
        raise ValueError(
            f"Expected weights=None, 'imagenet' or the path of an existing weights file. "
            f"No file at weights={weights!r}"
        )
    try:
        source = application_fn(weights)
    except Exception as error:  # network failure, wrong file, ...
        hint = (
            " ImageNet weights are downloaded by keras.applications on first use; on a machine without "
            "internet, download the keras.applications .h5 file elsewhere and pass weights=<its path>."
            if weights == "imagenet"
            else ""
        )
        raise ValueError(f"Could not load weights={weights!r} for {backbone.name}: {error}.{hint}") from error
    copied, mismatched, missing = transfer_weights_by_name(source, backbone, skip=skip)
    unexpected = [name for name in mismatched + missing if name not in allowed_missing]
    if not copied or unexpected:
        raise ValueError(
            f"weights={weights!r} do not fit {backbone.name}: copied {len(copied)} layers; "
            f"no matching weights for {unexpected}"
        )
    left = [name for name in mismatched + missing if name in allowed_missing]
    if left:
        warnings.warn(
            f"{backbone.name}: {len(copied)} layers initialised from {weights!r}; these keep their random "
            f"initialisation because the pretrained model has no counterpart: {left}",
            stacklevel=3,
        )
    return source


def decimate_vgg_fc(fc1_kernel, fc1_bias, fc2_kernel, fc2_bias, kernel_size=3, filters=1024):
    """Turn VGG16's fc1/fc2 into DeepLab-LargeFOV's fc6 (3x3) / fc7 (1x1) by decimation.

    DeepLab v1/v2 (§4.1.1 of v2: "retaining a subset of 1,024 out of the 4,096 filters")
    subsample fc6's 7x7 kernel spatially and keep a quarter of the filters. Here the
    spatial taps are evenly spaced (0, 3, 6 for 3x3) and the kept filters are every
    4th one, so the result is deterministic.

    Args:
        fc1_kernel: (25088, 4096) array, VGG16 `fc1` kernel (flattened 7x7x512, NHWC).
        fc1_bias: (4096,) array.
        fc2_kernel: (4096, 4096) array.
        fc2_bias: (4096,) array.
        kernel_size: int. Spatial size of fc6. Defaults to 3.
        filters: int. Kept filters. Defaults to 1024.

    Returns:
        fc6_kernel (k, k, 512, filters), fc6_bias, fc7_kernel (1, 1, filters, filters), fc7_bias.
    """
    full = fc1_kernel.shape[1]
    step = full // filters
    taps = np.round(np.linspace(0, 6, kernel_size)).astype(int)
    kernel = np.reshape(fc1_kernel, (7, 7, 512, full))[taps][:, taps][..., ::step][..., :filters]
    fc7 = fc2_kernel[::step, ::step][:filters, :filters]
    return kernel, fc1_bias[::step][:filters], fc7[None, None], fc2_bias[::step][:filters]
