"""RelationNet's shifted multi-step testing (§II-C, Fig. 5) and the stride-resolution scores it reads."""

import numpy as np
import tensorflow as tf

from kseg.inference.batch import as_batch
from kseg.layers.preprocessing import IMAGENET_CAFFE_MEAN_RGB as IMAGE_MEAN


def stride_logits_model(model, layer=None):
    """The part of a kseg model up to its low-resolution class scores (before the bilinear
    upsampling): the input `shifted_predict` needs.

    Args:
        model: a functional segmentation model.
        layer: name of the layer giving the scores. Defaults to the model's `SCORE_LAYER`
            (every `kseg.models.SegmentationModel` names its own).
    """
    import keras

    names = [l.name for l in model.layers]
    if layer is None:
        layer = getattr(model, "SCORE_LAYER", None)
        if layer is None:
            raise ValueError(f"{model.name!r} does not name its score layer (SCORE_LAYER): pass layer=")
    if layer not in names:
        raise ValueError(f"{model.name!r} has no layer {layer!r}. Its layers: {names}")
    return keras.Model(model.inputs, model.get_layer(layer).output, name=f"{model.name}_stride_logits")


def logits_stride(stride_model, probe=64):
    """Output stride of `stride_model` (e.g. 8 for RelationNet): a `probe`-pixel square
    input's side over its scores' side."""
    scores = stride_model(tf.zeros((1, probe, probe, 3)), training=False)
    side = int(scores.shape[1])
    if probe % side:
        raise ValueError(f"{stride_model.name!r} maps {probe} pixels to {side} cells: not a whole output stride")
    return probe // side


def receptive_field_offsets(network, output_stride, probe_cells=12):
    """Where each cell of `network`'s stride-s output looks: the offset of cell i's
    receptive-field centre from pixel `s i`, for every input side modulo s.

    "Coordinate value of feature maps is the embedding of pixel locating at the center of
    respective field" (RelationNet §II-C). The centre is measured on the network, not
    assumed: on a copy whose convolutions all average their inputs uniformly (kernels
    1 / fan-in, no biases, BatchNorm as identity, deformable offsets zero) the input
    gradient of a cell counts the paths from each pixel to it, whatever the trained
    weights, and its centroid is the centre the kernels, strides, dilations and paddings
    give (with two paths of different centres, as a strided block's 3x3 and 1x1 shortcut,
    their path-weighted mean). TF's "same" padding puts the extra pixel of a strided layer
    at the bottom or right depending on the side's parity, so the centre depends on the
    input side modulo s: one probe per residue, each side `s * probe_cells + r`.

    Args:
        network: keras.Model, images (1, H, W, 3) -> features (1, ceil(H / s), ceil(W / s), C)
            (e.g. the deepest level of a backbone, `centre_network(model)`).
        output_stride: s.
        probe_cells: int. Probe side in cells (the measured cell is the middle one).
            Defaults to 12.

    Returns:
        (s, 2) float32 NumPy array: row r holds (row offset for H = r mod s, column offset
        for W = r mod s), in pixels.
    """
    import keras
    uniform = keras.models.clone_model(network)
    _average_uniformly(uniform)
    cell = probe_cells // 2

    # a graph computes only the input gradient (eager also takes the kernels'); one trace for every side
    @tf.function(input_signature=[tf.TensorSpec((1, None, None, 3), tf.float32)])
    def path_counts(image):
        with tf.GradientTape() as tape:
            tape.watch(image)
            target = tf.reduce_sum(tf.cast(uniform(image, training=False), tf.float32)[0, cell, cell])
        return tf.reduce_sum(tape.gradient(target, image)[0], axis=-1)

    offsets = np.zeros((output_stride, 2), np.float32)
    for residue in range(output_stride):
        side = output_stride * probe_cells + residue
        weight = path_counts(tf.fill((1, side, side, 3), 255.0)).numpy().astype(np.float64)  # positive: ReLUs pass
        positions = np.arange(side, dtype=np.float64)
        total = weight.sum()
        if not total > 0:
            raise ValueError(f"{network.name!r}: cell {cell} of a {side}-pixel probe sees no pixel; is it a stride-{output_stride} network?")
        offsets[residue] = (
            (weight.sum(axis=1) @ positions) / total - output_stride * cell,
            (weight.sum(axis=0) @ positions) / total - output_stride * cell,
        )
    return offsets


def _average_uniformly(model):
    """Set `model`'s weights so that every convolution is a uniform average (see
    `receptive_field_offsets`)."""
    from kseg.backbones.weights import leaf_layers
    from kseg.layers.deformable import DeformableConv2D

    for layer in leaf_layers(model):
        if not layer.weights:
            continue
        if isinstance(layer, DeformableConv2D):
            for weight in layer.offset_conv.weights:
                weight.assign(tf.zeros_like(weight))
        if getattr(layer, "kernel", None) is not None:
            kernel = layer.kernel
            kernel.assign(tf.fill(kernel.shape, 1.0 / float(np.prod(kernel.shape[:-1]))))
            if getattr(layer, "bias", None) is not None:
                layer.bias.assign(tf.zeros_like(layer.bias))
        elif "normalization" in type(layer).__name__.lower():
            for weight in layer.weights:
                name = weight.name.split("/")[-1]
                weight.assign(tf.ones_like(weight) if name in ("gamma", "moving_variance") else tf.zeros_like(weight))


def centre_network(model):
    """The part of `model` whose receptive fields `receptive_field_offsets` measures: the
    deepest level of its backbone (what decides where a cell looks; a relation module's
    or decoder's global context has no centre), else its stride-resolution scores."""
    import keras

    backbone = getattr(model, "backbone", None)
    if isinstance(backbone, keras.Model) and isinstance(backbone.output, dict):
        deepest = list(backbone.output)[-1]  # levels are in order, shallow to deep
        return keras.Model(backbone.inputs, backbone.output[deepest], name=f"{backbone.name}_{deepest}")
    return stride_logits_model(model)


def shifted_predict(model, image, steps=4, output_stride=8, pad_value=IMAGE_MEAN, centre_offsets=None):
    """RelationNet's multi-step shifted testing (§II-C, Fig. 5): instead of interpolating
    the stride-`output_stride` scores, run the network on the image shifted by each
    multiple of `output_stride / steps` pixels in both axes and interleave the results.

    "4-steps testing": `steps` is the number of shifts per axis, so `steps ** 2` forward
    passes; s / steps pixels apart (s the output stride). The paper's 4 steps at stride 8
    read as 4 shifts of 2 pixels per axis (16 runs, a prediction per 2x2 block); `steps=2`
    is the other reading (2 x 2 = 4 runs, per 4x4 block) and `steps=8` gives every pixel
    its own cell. Each prediction goes where its cell looks: a cell (i, j) of the run on
    the image shifted by (dy, dx) (moved up and left, `pad_value` filling the bottom and
    right) is placed at `(s i + dy, s j + dx) + centre_offsets` in the original image, its
    receptive-field centre, covering the s / steps pixels around it; pixels nearer the
    border than any centre take the nearest cell. With `centre_offsets=None` the cell is
    placed at its block's top-left corner `(s i + dy, s j + dx)` (a network whose cell i
    is centred on pixel s i).

    Args:
        model: callable, images (B, H, W, 3) -> scores (B, ceil(H / s), ceil(W / s), C)
            (e.g. `stride_logits_model(RelationNet(...))`).
        image: (H, W, 3) or (B, H, W, 3), RGB 0-255.
        steps: int dividing `output_stride`: shifts per axis. Defaults to 4.
        output_stride: int. Defaults to 8.
        pad_value: fill colour of the uncovered border. Defaults to the ImageNet mean.
        centre_offsets: None or the (s, 2) table of `receptive_field_offsets(model, s)`.
            Defaults to None.

    Returns:
        (H, W, C) or (B, H, W, C) float32 scores at the input's resolution.
    """
    if output_stride % steps:
        raise ValueError(f"steps={steps} must divide output_stride={output_stride}")
    images, single = as_batch(image)
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    sub = output_stride // steps
    fill = tf.constant(pad_value, tf.float32)
    images = tf.cast(images, tf.float32)
    shifts = tf.constant([(a * sub, b * sub) for a in range(steps) for b in range(steps)], tf.int32)

    def run_shifted(shift):
        dy, dx = shift[0], shift[1]
        shifted = images[:, dy:, dx:]
        paddings = [[0, 0], [0, dy], [0, dx], [0, 0]]
        border = 1.0 - tf.pad(tf.ones_like(shifted[..., :1]), paddings)  # 1 on the added rows/columns
        return tf.cast(model(tf.pad(shifted, paddings) + border * fill), tf.float32)

    # One run per shift in a loop (the model is traced once; runs do not share memory).
    runs = tf.map_fn(
        run_shifted, shifts, fn_output_signature=tf.TensorSpec(None, tf.float32), parallel_iterations=1
    )  # (steps_a * steps_b, B, h, w, C)
    shape = tf.shape(runs)
    runs = tf.reshape(runs, tf.concat([[steps, steps], shape[1:]], 0))  # (steps_a, steps_b, B, h, w, C)
    grid = tf.transpose(runs, [2, 3, 0, 4, 1, 5])  # (B, h, steps_a, w, steps_b, C)
    shape = tf.shape(grid)
    fine = tf.reshape(grid, [shape[0], shape[1] * steps, shape[3] * steps, shape[5]])  # cell k at pixel k * sub
    if sub > 1:
        fine = tf.repeat(tf.repeat(fine, sub, axis=1), sub, axis=2)
    if centre_offsets is not None:
        fine = _move_to_centres(fine, height, width, centre_offsets, output_stride, sub)
    out = fine[:, :height, :width]
    return out[0] if single else out


def _move_to_centres(fine, height, width, centre_offsets, output_stride, sub):
    """`fine` (cell k's block at pixels k sub ... k sub + sub - 1) moved so that each block
    is centred on its cell's receptive-field centre; rows and columns beyond the first or
    last centre repeat the nearest."""
    table = tf.constant(centre_offsets, tf.float32)
    row_offset = table[height % output_stride, 0]
    col_offset = table[width % output_stride, 1]
    half_block = (sub - 1) / 2.0

    def take(x, axis, size, offset):
        shift = tf.cast(tf.round(offset - half_block), tf.int32)
        index = tf.clip_by_value(tf.range(size) - shift, 0, tf.shape(x)[axis] - 1)
        return tf.gather(x, index, axis=axis)

    return take(take(fine, 1, height, row_offset), 2, width, col_offset)
