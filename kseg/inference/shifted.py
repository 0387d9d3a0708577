"""RelationNet's shifted multi-step testing (§II-C, Fig. 5) and the stride-resolution scores it reads."""

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


def shifted_predict(model, image, steps=4, output_stride=8, pad_value=IMAGE_MEAN):
    """RelationNet's multi-step shifted testing (§II-C, Fig. 5): instead of interpolating
    the stride-`output_stride` scores, run the network on the image shifted by each
    multiple of `output_stride / steps` pixels in both axes and interleave the results.

    A score cell (i, j) of the run on the image shifted by (dy, dx) (the image moved up and
    left, padded with `pad_value` at the bottom and right) stands for the original pixels
    from `(s i + dy, s j + dx)` over `s / steps` pixels in each direction, s the output
    stride, so with `steps = s` every pixel gets the cell anchored on it and no
    interpolation is left; with fewer steps each block of `s / steps` pixels shares one.
    `steps ** 2` forward passes.

    Args:
        model: callable, images (B, H, W, 3) -> scores (B, ceil(H / s), ceil(W / s), C)
            (e.g. `stride_logits_model(RelationNet(...))`).
        image: (H, W, 3) or (B, H, W, 3), RGB 0-255.
        steps: int dividing `output_stride`: shifts per axis. Defaults to 4.
        output_stride: int. Defaults to 8.
        pad_value: fill colour of the uncovered border. Defaults to the ImageNet mean.

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
    fine = tf.reshape(grid, [shape[0], shape[1] * steps, shape[3] * steps, shape[5]])
    if sub > 1:
        fine = tf.repeat(tf.repeat(fine, sub, axis=1), sub, axis=2)
    out = fine[:, :height, :width]
    return out[0] if single else out
