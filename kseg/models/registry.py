"""The architectures by name (`model.architecture`), each registered where it is defined."""

from kseg.registry import registrar

ARCHITECTURES = {}  # name -> model class
register_architecture = registrar(ARCHITECTURES, "architecture")  # @register_architecture("pan") on the class


def create(name, **options):
    """The model of architecture `name` ("pan", "deeplabv2", ...) built with `options`,
    e.g. `create("pan", num_classes=21)`; a ValueError naming the architectures otherwise."""
    if name not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture {name!r}. Expected one of {sorted(ARCHITECTURES)}.")
    return ARCHITECTURES[name](**options)
