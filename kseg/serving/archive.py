"""A SavedModel of signatures only: their concrete functions and the variables they read.

`keras.export.ExportArchive` puts its endpoints on the SavedModel root as `tf.function`s;
`tf.saved_model.save` traces every such function again inside its save context (TF keys
its trace cache on the save options), and the archive walks every tracked Keras object
looking for lookup tables. kseg's serving graphs hold no lookup tables, and TF Serving,
`tf.saved_model.load(...).signatures[...]` and Keras's `TFSMLayer` call signatures, so the
root here carries only the concrete functions traced once and the variables they capture:
the same signatures, written in about half the time (`benchmarks/export_time.py`).
"""

import tensorflow as tf


class SignatureArchive:
    """Concrete functions written as a SavedModel's signatures.

    Args:
        signatures: dict of signature name -> `tf.types.experimental.ConcreteFunction`
            (traced with named `tf.TensorSpec` inputs, returning a dict of tensors).
    """

    def __init__(self, signatures):
        if not signatures:
            raise ValueError("SignatureArchive needs at least one signature")
        self.signatures = dict(signatures)

    def root(self):
        """The object graph `tf.saved_model.save` writes: the captured variables (trainable
        first, each once) and each concrete function as an attribute of its signature's
        name, so `tf.saved_model.load(path).<name>(...)` works as the signature does."""
        root = tf.__internal__.tracking.AutoTrackable()  # tf.Module has a read-only `variables`
        seen, variables = set(), []
        for function in self.signatures.values():
            for variable in (*function.trainable_variables, *function.variables):
                if id(variable) not in seen:
                    seen.add(id(variable))
                    variables.append(variable)
        root.variables = variables
        root.trainable_variables = [v for v in variables if v.trainable]
        root.non_trainable_variables = [v for v in variables if not v.trainable]
        for name, function in self.signatures.items():
            setattr(root, name, function)
        return root

    def write_out(self, path):
        """Write the SavedModel to `path` (a folder that must not hold one yet)."""
        tf.saved_model.save(self.root(), path, signatures=self.signatures)
