"""The architectures by name (`model.architecture`), each registered where it is defined."""

ARCHITECTURES = {}  # name -> model class


def register_architecture(*names):
    """Class decorator: `cls` is the model of the architectures `names`."""

    def register(cls):
        for name in names:
            if name in ARCHITECTURES:
                raise ValueError(f"architecture {name!r} is already registered by {ARCHITECTURES[name].__name__}")
            ARCHITECTURES[name] = cls
        return cls

    return register


def create(name, **options):
    """The model of architecture `name` ("pan", "deeplabv2", ...) built with `options`,
    e.g. `create("pan", num_classes=21)`; a ValueError naming the architectures otherwise."""
    if name not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture {name!r}. Expected one of {sorted(ARCHITECTURES)}.")
    return ARCHITECTURES[name](**options)
