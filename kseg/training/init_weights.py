"""Starting a training run from another run's weights (`train.init_weights`, stages)."""

from kseg.backbones.weights import leaf_layers, transfer_weights_by_name


def transfer_weights(source, target):
    """Copy `source`'s weights into `target`'s layers of the same name (nested models
    flattened, as `kseg.backbones.weights.transfer_weights_by_name` does), strictly.

    kseg models name their parts ("resnet101" and its blocks, "aspp", "relation",
    "classifier", ...), so a model with extra parts (RelationNet's similarity subnet) takes
    what the other has and keeps its own initialisation for the rest.

    Returns:
        dict with "copied" and "kept": names of `target`'s layers with weights that were
        copied, and left as initialised because `source` has no such layer.

    Raises:
        ValueError: no layer name in common, or layers of the same name whose weight shapes
        differ (another architecture or number of classes), naming them.
    """
    copied, mismatched, kept = transfer_weights_by_name(source, target)
    if mismatched:
        by_name = {layer.name: layer for layer in leaf_layers(target)}
        shapes = {name: [tuple(w.shape) for w in by_name[name].weights] for name in mismatched[:5]}
        raise ValueError(
            f"Cannot start {target.name!r} from {source.name!r}: layers {mismatched} have weights of other "
            f"shapes than the source's (target shapes: {shapes})"
        )
    if not copied:
        raise ValueError(f"Cannot start {target.name!r} from {source.name!r}: no layer name in common")
    return {"copied": copied, "kept": kept}

