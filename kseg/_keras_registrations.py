"""kseg's Keras objects registered as soon as Keras is loaded, so that after `import kseg`
`keras.saving.load_model` finds every layer, model, loss, metric, optimizer and schedule a
kseg `.keras` file names, while `import kseg` itself (and `kseg.visualize`,
`kseg.training.config`) loads no TensorFlow.

If Keras is loaded already, the modules are imported at once. Otherwise a finder on
`sys.meta_path` (PEP 451) lets Python load Keras and kseg's modules as it would, wrapping
their loaders to watch two events: Keras finished loading, and no kseg module is half
imported. Registration runs when both hold. Waiting for the second matters when a kseg
module is what loads Keras (`kseg.losses` imported by the config check): registering then
would import `kseg.models`, which imports the still half-initialised `kseg.losses`.
"""

import importlib
import importlib.abc
import sys

# The modules whose import registers what a saved kseg model names (and every model family).
MODULES = (
    "kseg.layers", "kseg.backbones", "kseg.losses", "kseg.metrics", "kseg.training.optimizers", "kseg.training.schedules",
)


def register():
    for name in MODULES:
        importlib.import_module(name)
    importlib.import_module("kseg.models.registry").architectures()


class _RegisterAfterKeras(importlib.abc.MetaPathFinder):
    """Finds nothing itself: asked for `keras` or a kseg module, returns the spec the finders
    after it give, its loader wrapped to count kseg modules executing and to register once
    Keras is loaded and that count is back to zero; then it leaves `sys.meta_path`. (A spec
    asked for without loading, as TensorFlow's availability check does, changes nothing.)"""

    def __init__(self):
        self.kseg_modules_executing = 0
        self.keras_loaded = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras" and not fullname.startswith("kseg."):
            return None
        spec = self._spec_from_the_other_finders(fullname, path, target)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader.exec_module = self._watched(spec.loader.exec_module, is_keras=fullname == "keras")
        return spec

    def _spec_from_the_other_finders(self, fullname, path, target):
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                return spec
        return None

    def _watched(self, execute, is_keras):
        def exec_module(module):
            self.kseg_modules_executing += not is_keras
            try:
                execute(module)
            finally:
                self.kseg_modules_executing -= not is_keras
            self.keras_loaded = self.keras_loaded or is_keras
            if self.keras_loaded and not self.kseg_modules_executing and self in sys.meta_path:
                sys.meta_path.remove(self)
                register()

        return exec_module


def register_when_keras_loads():
    if "keras" in sys.modules:
        register()
    elif not any(isinstance(finder, _RegisterAfterKeras) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterKeras())
