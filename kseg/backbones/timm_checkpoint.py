"""Pretrained ResNets from timm checkpoints (`.safetensors`), read with NumPy: no torch.

timm's bottleneck ResNets (`resnet50/101`, `resnet50s/101s`, `resnet50d/101d`) differ from
the keras.applications layout in three structural choices, all visible in the tensors or
fixed by timm, and all options of `ResNetBackbone`:

- the stride of a downsampling block sits on its 3x3 conv ("v1.5"; keras.applications and
  Caffe put it on the first 1x1). timm always does this: `stride_in_3x3=True`.
- the stem: one 7x7 conv (`conv1.weight`), or the deep stem of three 3x3 convs
  (`conv1.0/3/6.weight`): widths 64-64-128 in the `s` variants (PSPNet's, PAN §3.3),
  32-32-64 in the `d` variants (Bag of Tricks, He et al. 2019).
- the projection shortcut: a strided 1x1 conv (`downsample.0`), or a 2x2 average pool
  then a 1x1 conv (`downsample.1`, "avg-down", the `d` variants).

Tensor names map to kseg layers as `layer{i}.{j}.conv{k}` -> `conv{i+1}_block{j+1}_{k}_conv`,
`bn{k}` -> `_{k}_bn`, the shortcut to `_0_conv` / `_0_bn`; the classifier (`fc`) is dropped.
The weights expect timm's input normalisation (`preprocessing="torch"`).
"""

import os
import re

import numpy as np

TIMM_SUFFIX = ".safetensors"
_IGNORED = re.compile(r"^fc\.|\.num_batches_tracked$")
_BLOCK = re.compile(r"^layer([1-4])\.(\d+)\.")


def is_timm_checkpoint(weights):
    """Whether `weights` names a timm checkpoint file (by its suffix)."""
    return isinstance(weights, (str, os.PathLike)) and os.fspath(weights).endswith(TIMM_SUFFIX)


def read_timm_checkpoint(path):
    """The tensors of the `.safetensors` file at `path`: {name: np.ndarray}."""
    from safetensors.numpy import load_file

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"No timm checkpoint at weights={path!r}")
    try:
        return load_file(path)
    except Exception as error:  # safetensors raises its own error types for bad headers
        raise ValueError(f"weights={path!r} is not a readable .safetensors file: {error}") from error


def timm_resnet_structure(tensors, path):
    """`ResNetBackbone` arguments of the network `tensors` come from.

    Returns:
        dict with `blocks` (per stage), `stage_filters` (bottleneck widths), `deep_stem`,
        `stem_width`, `avg_down`, `stride_in_3x3` (True) and `preprocessing` ("torch").
    Raises:
        ValueError naming `path` for anything but a plain bottleneck ResNet.
    """
    if "layer1.0.conv3.weight" not in tensors:
        raise ValueError(f"{path}: not a timm bottleneck ResNet (50, 101, ...): no tensor 'layer1.0.conv3.weight'")
    blocks = tuple(
        1 + max(int(m.group(2)) for m in map(_BLOCK.match, tensors) if m and m.group(1) == str(stage))
        for stage in range(1, 5)
    )
    stage_filters = tuple(int(tensors[f"layer{stage}.0.conv1.weight"].shape[0]) for stage in range(1, 5))
    for stage, filters in enumerate(stage_filters, start=1):
        grouped = tensors[f"layer{stage}.0.conv2.weight"].shape[1]
        if grouped != filters:
            raise ValueError(f"{path}: grouped 3x3 convs (ResNeXt) are not supported: layer{stage}.0.conv2 sees {grouped} of {filters} channels")
    deep_stem = "conv1.0.weight" in tensors
    if deep_stem:
        widths = [int(tensors[f"conv1.{i}.weight"].shape[0]) for i in (0, 3, 6)]
        if widths[1] != widths[0] or widths[2] != 2 * widths[0]:
            raise ValueError(f"{path}: deep stem widths {widths} are not w-w-2w (the s and d variants'); tiered stems are not supported")
        stem_width = widths[0]
    else:
        stem_width = int(tensors["conv1.weight"].shape[0])
    return dict(
        blocks=blocks, stage_filters=stage_filters, deep_stem=deep_stem, stem_width=stem_width,
        avg_down="layer1.0.downsample.1.weight" in tensors and tensors["layer1.0.downsample.1.weight"].ndim == 4,
        stride_in_3x3=True, preprocessing="torch",
    )


def timm_resnet_layer_weights(tensors, structure, path):
    """{kseg layer name: (kind, {"kernel" | "gamma" | ...: array})} for every weight of the
    checkpoint, kernels in Keras' (kh, kw, in, out) layout. Tensors that map to nothing
    (attention blocks, ...) are an error naming one of them."""
    names = {}
    if structure["deep_stem"]:
        for i, (conv, bn) in enumerate((("conv1.0", "conv1.1"), ("conv1.3", "conv1.4"), ("conv1.6", "bn1")), start=1):
            names[conv], names[bn] = f"stem_conv{i}", f"stem_bn{i}"
    else:
        names["conv1"], names["bn1"] = "conv1_conv", "conv1_bn"
    shortcut = ("downsample.1", "downsample.2") if structure["avg_down"] else ("downsample.0", "downsample.1")
    for stage, count in enumerate(structure["blocks"], start=1):
        for block in range(count):
            source, target = f"layer{stage}.{block}", f"conv{stage + 1}_block{block + 1}"
            for k in (1, 2, 3):
                names[f"{source}.conv{k}"], names[f"{source}.bn{k}"] = f"{target}_{k}_conv", f"{target}_{k}_bn"
            names[f"{source}.{shortcut[0]}"], names[f"{source}.{shortcut[1]}"] = f"{target}_0_conv", f"{target}_0_bn"
    layers, used = {}, set()
    for module, layer in names.items():
        if f"{module}.weight" not in tensors:
            continue
        weight = tensors[f"{module}.weight"]
        if weight.ndim == 4:
            layers[layer] = ("conv", {"kernel": np.transpose(weight, (2, 3, 1, 0))})
            used.add(f"{module}.weight")
        else:
            parts = dict(gamma="weight", beta="bias", moving_mean="running_mean", moving_variance="running_var")
            layers[layer] = ("bn", {key: tensors[f"{module}.{part}"] for key, part in parts.items()})
            used.update(f"{module}.{part}" for part in parts.values())
    left = sorted(name for name in tensors if name not in used and not _IGNORED.search(name))
    if left:
        raise ValueError(f"{path}: {len(left)} tensors fit no layer of a plain ResNet (e.g. {left[0]!r}); attention or other variants are not supported")
    return layers


def load_timm_resnet_weights(backbone, tensors, structure, path):
    """Set every conv and BatchNorm of the kseg ResNet `backbone` from the checkpoint
    (conv biases, which timm's convs do not have, to zero)."""
    layers = timm_resnet_layer_weights(tensors, structure, path)
    expected = {layer.name for layer in backbone.layers if layer.weights}
    missing = sorted(expected - set(layers))
    if missing:
        raise ValueError(f"{path}: no weights for {len(missing)} layers of {backbone.name} (e.g. {missing[0]!r})")
    for name, (kind, values) in layers.items():
        layer = backbone.get_layer(name)
        if kind == "conv":
            weights = [values["kernel"]] + ([np.zeros(values["kernel"].shape[-1], np.float32)] if layer.use_bias else [])
        else:
            weights = [values["gamma"], values["beta"], values["moving_mean"], values["moving_variance"]]
        shapes = [tuple(w.shape) for w in layer.weights]
        if [tuple(w.shape) for w in weights] != shapes:
            raise ValueError(f"{path}: tensors for {name} have shapes {[w.shape for w in weights]}; the layer needs {shapes}")
        layer.set_weights([np.asarray(w, np.float32) for w in weights])
