"""Create, before `model.fit` traces its training step, the state Keras would otherwise create
inside that trace.

Without a distribution strategy scope, Keras 3 builds a compiled model's remaining state (for
a model of several outputs: a loss tracker per output, i.e. variables) while tracing the first
training step; `tf.function` then traces the whole step a second time, because a function that
created variables must be traced again without creating them. A RelationNet with its
similarity subnet or a multi-scale DeepLab paid for it twice: the first one-step `fit` at 64x64
(mostly tracing) of the DeepLab v2 VOC recipe's model took 25.4 s, 19.3 s with this; of the
Cityscapes RelationNet 11.0-11.7 s, 9.2-10.3 s (`benchmarks/first_trace.py`, AMD EPYC,
2026-12-06). Under a strategy scope Keras builds this state itself before tracing
(`TensorFlowTrainer._maybe_symbolic_build`); this does the same from the stream's element
spec, through the same private method, on the Keras versions it was verified with
(`kseg.training.keras_compat.PATCHED_KERAS`). Elsewhere it does nothing: fit still works,
tracing twice.
"""

import keras

from kseg.training.keras_compat import needs_patch


def build_before_first_trace(model, dataset):
    """Build `model`'s compiled state (metrics, losses, optimizer) from `dataset.element_spec`
    (a `tf.data.Dataset` of `model.fit` batches) when `model.fit` would build it inside its first
    trace: a compiled functional model of several outputs, outside a strategy scope. Returns
    True when it built."""
    outputs = getattr(model, "outputs", None) or ()
    if not model.compiled or model._distribute_strategy is not None or len(outputs) < 2 or not needs_patch():
        return False
    batch = keras.tree.map_structure(
        lambda spec: keras.KerasTensor(tuple(spec.shape), spec.dtype.name), dataset.element_spec
    )
    model._symbolic_build(data_batch=batch)
    return True
