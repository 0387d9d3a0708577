"""Starting a training run from another run's weights (`train.init_weights`, stages)."""

import numpy as np


def transfer_weights(source, target):
    """Copy the weights of `source`'s top-level layers into `target`'s layers of the same name.

    Both are kseg models whose parts have stable names ("resnet101", "aspp", "relation",
    "classifier", ...), so a model with extra parts (RelationNet's similarity subnet) takes
    what the other has and keeps its own initialisation for the rest.

    Returns:
        dict with "copied" and "kept" (names of `target`'s layers with weights that were
        copied, and left as initialised).

    Raises:
        ValueError: no layer name in common, or a layer of the same name whose weight
        shapes differ (a different architecture or number of classes), naming the layer.
    """
    copied, kept = [], []
    by_name = {layer.name: layer for layer in source.layers}
    for layer in target.layers:
        if not layer.weights:
            continue
        match = by_name.get(layer.name)
        if match is None or not match.weights:
            kept.append(layer.name)
            continue
        values = match.get_weights()
        shapes = [np.shape(v) for v in values]
        expected = [tuple(w.shape) for w in layer.weights]
        if shapes != expected:
            raise ValueError(
                f"Cannot start {target.name!r} from {source.name!r}: layer {layer.name!r} has weights of shapes "
                f"{expected} but the source's have {shapes}"
            )
        layer.set_weights(values)
        copied.append(layer.name)
    if not copied:
        raise ValueError(
            f"Cannot start {target.name!r} from {source.name!r}: no layer name in common "
            f"(target: {[l.name for l in target.layers if l.weights]}, source: {[l.name for l in source.layers if l.weights]})"
        )
    return {"copied": copied, "kept": kept}
