"""The model families and the architectures by name (`model.architecture`), each registered
where it is defined.

A family is a folder `kseg/models/<family>/`: its model classes (registered with
`@register_architecture`), its training task (`task.py`) and, when it reads a config section
of its own, `config.py` (`SECTIONS`: name -> dataclass, and `SHORTHANDS`). `FAMILIES` lists
them in the order the papers are listed, the order error messages name them in.
"""

import importlib
import importlib.util

from kseg.registry import registrar

FAMILIES = ("pan", "deeplab", "gan", "relationnet")

ARCHITECTURES = {}  # name -> model class, filled as the families load (use `architectures()`)
register_architecture = registrar(ARCHITECTURES, "architecture")  # @register_architecture("pan") on the class


def architectures():
    """Every family loaded (each public name of its package, which registers its models):
    architecture name -> model class."""
    for family in FAMILIES:
        package = importlib.import_module(f"kseg.models.{family}")
        for name in package.__all__:
            getattr(package, name)
    return ARCHITECTURES


def create(name, **options):
    """The model of architecture `name` ("pan", "deeplabv2", ...) built with `options`,
    e.g. `create("pan", num_classes=21)`; a ValueError naming the architectures otherwise."""
    if name not in architectures():
        raise ValueError(f"Unknown architecture {name!r}. Expected one of {sorted(ARCHITECTURES)}.")
    return ARCHITECTURES[name](**options)


def _family_configs():
    for family in FAMILIES:
        name = f"kseg.models.{family}.config"
        if importlib.util.find_spec(name) is not None:
            yield importlib.import_module(name)


def family_sections():
    """Section name -> dataclass, for every family's `config.py` (no TensorFlow is loaded)."""
    return {name: schema for config in _family_configs() for name, schema in config.SECTIONS.items()}


def family_shorthands():
    """`--set` shorthand -> dotted key, from every family's `config.py`."""
    return {short: key for config in _family_configs() for short, key in config.SHORTHANDS.items()}
