"""Test-time procedures on top of a segmentation model's output."""

import numpy as np
import tensorflow as tf

from kseg.layers.crf import ConvCRF, DenseCRF
from kseg.layers.preprocessing import IMAGENET_CAFFE_MEAN_RGB as IMAGE_MEAN

CRFS = {"dense": DenseCRF, "conv": ConvCRF}


def refine(logits, image, crf="dense", **params):
    """Refine a segmentation with a CRF (DeepLab v2 §3.3 post-processing).

    Args:
        logits: `(B, H, W, C)` or `(H, W, C)` unary log-probabilities up to a constant
            (a kseg model's output), at the image's size.
        image: `(B, H, W, 3)` or `(H, W, 3)` RGB, uint8 or float in [0, 255].
        crf: "dense" (`kseg.layers.DenseCRF`) or "conv" (`kseg.layers.ConvCRF`).
        **params: constructor arguments of the CRF layer (e.g. `num_iterations=10`,
            `theta_alpha=80`).

    Returns:
        Probabilities with the shape of `logits`, float32.
    """
    if crf not in CRFS:
        raise ValueError(f"Unknown crf {crf!r}. Expected one of {sorted(CRFS)}.")
    logits = tf.convert_to_tensor(logits)
    image = tf.convert_to_tensor(image)
    single = logits.shape.rank == 3
    if single:
        logits, image = logits[None], image[None]
    if logits.shape.rank != 4 or image.shape.rank != 4:
        raise ValueError(
            f"Expected logits (B, H, W, C) and image (B, H, W, 3), or both without B. "
            f"Received logits {logits.shape} and image {image.shape}"
        )
    probabilities = CRFS[crf](**params)([logits, image])
    return probabilities[0] if single else probabilities


FUSIONS = ("mean", "max")


def _as_batch(image):
    image = tf.convert_to_tensor(image)
    if image.shape.rank == 3:
        return tf.cast(image[None], tf.float32), True
    if image.shape.rank == 4:
        return tf.cast(image, tf.float32), False
    raise ValueError(f"Expected an image (H, W, 3) or a batch (B, H, W, 3). Received shape {image.shape}")


def predict_multi_scale(model, image, scales=(1.0,), flip=False, fusion="mean"):
    """Test-time augmentation over scales and horizontal flips (PAN Tab. 5, DeepLab MSC).

    The image is resized by each scale (side `ceil(side * scale)`, bilinear), run through
    `model`, and the logits are resized back to the image size; with `flip` the mirrored
    image is run too and its output mirrored back. Fusion: "mean" averages the softmax
    probabilities (PAN), "max" takes the element-wise maximum of the logits (DeepLab's
    MSC).

    Args:
        model: callable mapping (B, h, w, 3) RGB 0-255 to logits (B, h, w, C).
        image: (H, W, 3) or (B, H, W, 3), RGB 0-255.
        scales: sequence of positive floats.
        flip: bool.
        fusion: "mean" or "max".

    Returns:
        "mean": probabilities; "max": logits; (B, H, W, C) or (H, W, C) like the input.
    """
    if fusion not in FUSIONS:
        raise ValueError(f"Expected fusion in {FUSIONS}. Received: fusion={fusion!r}")
    scales = tuple(float(s) for s in scales)
    if not scales or min(scales) <= 0:
        raise ValueError(f"Expected positive scales. Received: scales={scales}")
    images, single = _as_batch(image)
    size = tf.shape(images)[1:3]
    outputs = []
    for scale in scales:
        scaled_size = tf.cast(tf.math.ceil(tf.cast(size, tf.float32) * scale - 1e-4), tf.int32)
        scaled = images if scale == 1.0 else tf.image.resize(images, scaled_size, method="bilinear")
        variants = [(scaled, False)] + ([(tf.reverse(scaled, [2]), True)] if flip else [])
        for x, flipped in variants:
            logits = tf.cast(model(x, training=False), tf.float32)
            if flipped:
                logits = tf.reverse(logits, [2])
            logits = tf.image.resize(logits, size, method="bilinear")
            outputs.append(tf.nn.softmax(logits, axis=-1) if fusion == "mean" else logits)
    fused = tf.add_n(outputs) / len(outputs) if fusion == "mean" else tf.reduce_max(tf.stack(outputs), axis=0)
    return fused[0] if single else fused


def _window_starts(length, window, stride):
    if length <= window:
        return [0]
    starts = list(range(0, length - window, stride)) + [length - window]
    return sorted(set(starts))


def predict_sliding_window(model, image, window, stride, pad_value=IMAGE_MEAN):
    """Inference in overlapping windows for images larger than the training crop
    (Cityscapes 2048x1024 with 512 or 768 windows).

    Windows of `window` = (h, w) are placed every `stride` pixels, the last one flush with
    the border; an image smaller than the window is padded bottom/right with the mean
    colour (what the training pipeline pads with). Logits of overlapping windows are
    averaged.

    Args:
        model: callable mapping (B, h, w, 3) to logits (B, h, w, C).
        image: (H, W, 3) or (B, H, W, 3), RGB 0-255.
        window: int or (h, w).
        stride: int or (h, w), > 0.

    Returns:
        logits (B, H, W, C) or (H, W, C) like the input.
    """
    window = (window, window) if isinstance(window, int) else tuple(window)
    stride = (stride, stride) if isinstance(stride, int) else tuple(stride)
    if min(window) < 1 or min(stride) < 1:
        raise ValueError(f"Expected window and stride >= 1. Received: window={window}, stride={stride}")
    images, single = _as_batch(image)
    batch, height, width = (int(d) for d in images.shape[:3])
    pad_h, pad_w = max(window[0] - height, 0), max(window[1] - width, 0)
    if pad_h or pad_w:
        fill = tf.constant(pad_value, tf.float32)
        images = tf.pad(images - fill, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]]) + fill
    full_h, full_w = height + pad_h, width + pad_w
    total, counts = None, np.zeros((full_h, full_w, 1), np.float32)
    for top in _window_starts(full_h, window[0], stride[0]):
        for left in _window_starts(full_w, window[1], stride[1]):
            crop = images[:, top : top + window[0], left : left + window[1]]
            logits = tf.cast(model(crop, training=False), tf.float32).numpy()
            if total is None:
                total = np.zeros((batch, full_h, full_w, logits.shape[-1]), np.float32)
            total[:, top : top + window[0], left : left + window[1]] += logits
            counts[top : top + window[0], left : left + window[1]] += 1
    logits = tf.constant((total / counts)[:, :height, :width])
    return logits[0] if single else logits


SCORE_LAYERS = ("classifier", "aspp")  # RelationNet / PAN, DeepLab v2


def stride_logits_model(model, layer=None):
    """The part of a kseg model up to its low-resolution class scores (before the bilinear
    upsampling): the input `shifted_predict` needs.

    Args:
        model: a functional segmentation model.
        layer: name of the layer giving the scores. Defaults to the first of "classifier"
            (RelationNet, PAN) and "aspp" (DeepLab v2) the model has.
    """
    import keras

    names = [l.name for l in model.layers]
    if layer is None:
        layer = next((name for name in SCORE_LAYERS if name in names), None)
        if layer is None:
            raise ValueError(f"{model.name!r} has none of the score layers {SCORE_LAYERS}: pass layer=")
    elif layer not in names:
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
    images, single = _as_batch(image)
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
