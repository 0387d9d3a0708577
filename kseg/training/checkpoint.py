"""A `tf.train.Checkpoint` that holds every variable of the objects it is given.

TensorFlow's object graph reaches a variable only through attributes of trackable
objects. kseg's own layers make their list / dict sub-layers reachable
(`kseg.layers.tracking.ContainerTracking`), but some Keras objects are not trackable by
TensorFlow at all: the `SeedGenerator` of every `keras.layers.Dropout` keeps its state
variable on a plain Python object. `complete_checkpoint` adds each variable the graph
does not reach as an explicit dependency `unreached/<object>/<index>`, the index being its
position in `<object>.variables` (fixed by the architecture), so a resumed run restores
the dropout streams too.
"""

import tensorflow as tf


def reachable_ids(*roots):
    """ids of every object the checkpoint object graph reaches from `roots`."""
    seen, stack = set(), list(roots)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(node._trackable_children(save_type="checkpoint").values())  # TF's checkpoint protocol
    return seen


def unreached_variables(**objects):
    """{"<name>/<index>": variable} for each variable of `objects[name].variables` that
    `tf.train.Checkpoint(**objects)` would leave out."""
    reached = reachable_ids(*objects.values())
    return {
        f"{name}/{index}": variable
        for name, obj in objects.items()
        for index, variable in enumerate(obj.variables)
        if id(variable) not in reached
    }


def complete_checkpoint(**objects):
    """`tf.train.Checkpoint(**objects)` plus every variable its object graph misses."""
    missing = unreached_variables(**objects)
    if missing:
        objects["unreached"] = missing  # a dict is a trackable node with one child per key
    return tf.train.Checkpoint(**objects)


class IncompleteCheckpointError(RuntimeError):
    """A checkpoint does not hold every variable of the model being restored."""


def restore_complete(checkpoint, path):
    """Restore `path` into `checkpoint`; an `IncompleteCheckpointError` names what it lacks
    (e.g. a checkpoint written before kseg tracked every variable)."""
    status = checkpoint.restore(path)
    try:
        status.assert_existing_objects_matched()
    except AssertionError as error:
        first = str(error).splitlines()[0][:300]
        raise IncompleteCheckpointError(
            f"{path} does not hold every variable of this model ({first}); "
            "start from a new run directory or remove its checkpoints/ folder"
        ) from None
    return status
