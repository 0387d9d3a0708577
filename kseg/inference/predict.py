"""The test-time procedures composed: what `training.evaluate` and `training.fit` run per batch."""

import tensorflow as tf

from kseg.inference.crf import refine
from kseg.layers.crf import build_crf_for, make_crf
from kseg.inference.multi_scale import predict_multi_scale
from kseg.inference.shifted import (
    centre_network, logits_stride, receptive_field_offsets, shifted_predict, stride_logits_model,
)
from kseg.inference.sliding_window import predict_sliding_window


class TestTimeOptionError(ValueError):
    """A test-time option the model cannot be run with (e.g. shifted steps not dividing its stride)."""

    __test__ = False  # not a pytest class


def shifted_base(model, steps):
    """`model` run with RelationNet's shifted multi-step testing (§II-C): a callable
    images -> logits at the input size, interleaving `steps`^2 shifted runs of the model's
    low-resolution scores, each placed at its cells' measured receptive-field centres."""
    try:
        scores = stride_logits_model(model)
    except ValueError as error:
        raise TestTimeOptionError(f"--shifted-steps: {error}") from error
    output_stride = logits_stride(scores)
    if output_stride % steps:
        raise TestTimeOptionError(f"--shifted-steps {steps} must divide the model's output stride {output_stride}")

    offsets = receptive_field_offsets(centre_network(model), output_stride)  # measured once per model

    def base(images, training=False):
        return shifted_predict(scores, images, steps=steps, output_stride=output_stride, centre_offsets=offsets)

    return base


def predict(
    model, images, scales=(1.0,), flip=False, fusion="mean", sliding_window=None, stride=None, crf=None,
    shifted_steps=None,
):
    """Scores (B, H, W, C) for a batch of RGB images (B, H, W, 3) in [0, 255].

    The base prediction is plain, shifted multi-step (`shifted_steps`: a callable from
    `shifted_base` or an int) or sliding-window (`sliding_window` pixels every `stride`,
    default 2/3 of the window); then multi-scale/flip fusion (`scales`, `flip`, `fusion`);
    then an optional CRF (`crf`: "dense", "conv" or such a layer). Returns logits, or log-probabilities
    after "mean" fusion, or CRF probabilities.
    """
    if shifted_steps and sliding_window:
        raise TestTimeOptionError("shifted testing and a sliding window cannot be combined")
    if shifted_steps:
        base = shifted_steps if callable(shifted_steps) else shifted_base(model, int(shifted_steps))
    elif sliding_window:
        stride = stride or max(1, (2 * sliding_window) // 3)

        def base(x, training=False):
            return predict_sliding_window(model, x, sliding_window, stride)

    else:
        base = model
    if tuple(scales) != (1.0,) or flip:
        scores = predict_multi_scale(base, images, scales, flip, fusion)
        logits = tf.math.log(scores + 1e-8) if fusion == "mean" else scores
    else:
        logits = base(images, training=False)
    if crf:
        return refine(logits, images, crf=crf)
    return logits


def predictor(model, **options):
    """`images -> predict(model, images, **options)` prepared once: the shifted-testing score
    model built up front and the whole procedure traced as one graph (except with a
    sliding window, which assembles its tiles in NumPy around one traced window graph)."""
    if options.get("shifted_steps") and not callable(options["shifted_steps"]):
        options["shifted_steps"] = shifted_base(model, int(options["shifted_steps"]))
    if isinstance(options.get("crf"), str):  # one layer for every batch: traced once, not once a call
        options["crf"] = make_crf(options["crf"])
    build_crf_for(options.get("crf"), model)  # else its weights, made inside the trace, make it trace twice

    if options.get("sliding_window"):  # tiles assembled eagerly, each window through one traced graph
        window_graph = tf.function(lambda crop: model(crop, training=False), reduce_retracing=True, autograph=False)

        def sliding_forward(images):
            return predict(lambda crop, training=False: window_graph(crop), images, **options)

        return sliding_forward

    def forward(images):
        return predict(model, images, **options)

    return tf.function(forward, reduce_retracing=True)
