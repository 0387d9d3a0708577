"""kseg's Keras objects registered as soon as Keras is loaded, so that after `import kseg`
`keras.saving.load_model` finds every layer, model, loss, metric, optimizer and schedule a
kseg `.keras` file names, while `import kseg` itself (and `kseg.visualize`,
`kseg.training.config`) loads no TensorFlow.

If Keras is loaded already, the modules are imported at once; otherwise a finder on
`sys.meta_path` (PEP 451) lets Python load Keras as it would and imports them right after.
"""

import importlib
import importlib.abc
import importlib.util
import sys

# The modules whose import registers what a saved kseg model names.
MODULES = (
    "kseg.layers", "kseg.backbones", "kseg.models", "kseg.losses", "kseg.metrics",
    "kseg.training.optimizers", "kseg.training.schedules",
)


def register():
    for name in MODULES:
        importlib.import_module(name)


class _AfterKeras(importlib.abc.MetaPathFinder):
    """Finds nothing itself: asked for `keras`, returns the spec the other finders give with its
    loader wrapped so that `register` runs once Keras's module has executed, then leaves
    `sys.meta_path`. (A spec asked for without loading, as TensorFlow's availability check
    does, changes nothing.)"""

    def __init__(self):
        self.searching = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras" or self.searching:
            return None
        self.searching = True
        try:
            spec = importlib.util.find_spec("keras")
        finally:
            self.searching = False
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            register()

        spec.loader.exec_module = exec_module
        return spec


def register_when_keras_loads():
    if "keras" in sys.modules:
        register()
    elif not any(isinstance(finder, _AfterKeras) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterKeras())
