"""Package attributes imported on first use (PEP 562), so that importing a package runs only
what is asked for: `import kseg.visualize` loads no TensorFlow."""

import importlib
import sys


def lazy_attributes(package, attributes):
    """`(__getattr__, __dir__)` for `package` (its `__name__`): `attributes` maps each public
    name to the module defining it, relative to the package (".pan" or ".pan.model"; a
    submodule maps to itself, e.g. {"data": ".data"}). A name not listed is an AttributeError."""

    def __getattr__(name):
        if name not in attributes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(attributes[name], package)
        return module if module.__name__ == f"{package}.{name}" else getattr(module, name)

    def __dir__():
        public = {name for name in vars(sys.modules[package]) if not name.startswith("_")}
        return sorted(set(attributes) | public)

    return __getattr__, __dir__
