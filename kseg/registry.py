"""Tables of classes by name, filled by a decorator where each class is defined."""


def registrar(table, kind):
    """A decorator factory: `@register(*names)` puts the class into `table` under each of
    `names`; a name registered twice is a ValueError naming `kind` and both classes."""

    def register(*names):
        def add(cls):
            for name in names:
                if name in table:
                    raise ValueError(f"{kind} {name!r} is already registered by {table[name].__name__}")
                table[name] = cls
            return cls

        return add

    return register
