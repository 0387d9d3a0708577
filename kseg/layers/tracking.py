"""Sub-layers kept in lists and dicts, visible to `tf.train.Checkpoint` as well as to Keras.

Keras 3 wraps a list or dict assigned to a layer attribute in its own `TrackedList` /
`TrackedDict`, which Keras' weight files (`.keras`, `.weights.h5`) follow but TensorFlow's
object graph does not: TF tracks only containers whose type is exactly `list` or `dict`.
So `tf.train.Checkpoint(model=m)` silently leaves out every variable of such sub-layers
(keras-team/keras#18398 fixed this for SavedModel only), and a run resumed from a
checkpoint restarts those layers from their initial values.

`ContainerTracking` closes the gap where it opens: it adds every trackable inside a
public list / tuple / dict attribute to the layer's checkpoint dependencies, named
`<attribute>/<index or key>[/<index or key>...]`. Saving and restoring both go through
`_trackable_children` (TF's checkpoint protocol), so the same names are written and read.
"""

import tensorflow as tf

_CONTAINERS = (list, tuple, dict)


def _nested_trackables(value, path):
    """(name, trackable) for every trackable inside nested lists / tuples / dicts."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        name = f"{path}/{key}"
        if isinstance(item, _CONTAINERS):
            yield from _nested_trackables(item, name)
        elif isinstance(item, tf.__internal__.tracking.Trackable):
            yield name, item


class ContainerTracking:
    """Mixin for a `keras.layers.Layer` (or `keras.Model`) subclass that keeps sub-layers,
    variables or seed generators in lists or dicts: makes them checkpoint dependencies.

    Put it first in the bases: `class ASPP(ContainerTracking, keras.layers.Layer)`.
    """

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        children = super()._trackable_children(save_type, **kwargs)
        if save_type != "checkpoint":  # Keras already converts containers for SavedModel
            return children
        for attribute, value in list(vars(self).items()):
            if attribute.startswith("_") or not isinstance(value, _CONTAINERS):
                continue
            for name, trackable in _nested_trackables(value, attribute):
                children.setdefault(name, trackable)
        return children
