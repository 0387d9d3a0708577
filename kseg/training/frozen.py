"""The training configuration once loaded and checked: read-only.

`load_config` returns a `FrozenDict`: a `dict` (every reader, `isinstance(x, dict)` and
`json.dumps` keep working) that refuses writes, whose keys also read as attributes
(`config.train.steps`), with lists as `FrozenList`s. A run that needs a changed config says
so: `config.replace({"train.class_weights": [...]})` returns a new frozen config, and
`copy.deepcopy(config)` a plain, mutable copy (how stages and overrides are merged).
`yaml.safe_dump` writes it as the plain dicts and lists it holds.
"""

import yaml


class _ReadOnly:
    def _refuse(self, *args, **kwargs):
        raise TypeError(
            "the training config is read-only once loaded: use config.replace({'section.key': value}) "
            "or change a copy (copy.deepcopy(config))"
        )

    __setitem__ = __delitem__ = __iadd__ = __ior__ = _refuse
    append = extend = insert = remove = pop = popitem = clear = update = setdefault = sort = reverse = _refuse


class FrozenList(_ReadOnly, list):
    """A config list that refuses writes; equal to a list or tuple of the same items."""

    def __eq__(self, other):
        if isinstance(other, tuple):
            return list(self) == list(other)
        return list.__eq__(self, other)

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None

    def __deepcopy__(self, memo):
        return thaw(self)

    def __reduce__(self):
        return freeze, (thaw(self),)


class FrozenDict(_ReadOnly, dict):
    """A config mapping that refuses writes; `config.train.steps` reads `config["train"]["steps"]`."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"the config has no key {name!r}; it has {sorted(self)}") from None

    def __setattr__(self, name, value):
        self._refuse()

    def __deepcopy__(self, memo):
        return thaw(self)

    def __reduce__(self):
        return freeze, (thaw(self),)

    def replace(self, changes):
        """A new frozen config with `changes` ({"section.key": value, ...}) applied."""
        config = thaw(self)
        for key, value in changes.items():
            *path, last = key.split(".")
            target = config
            for part in path:
                target = target[part]
            if last not in target:
                raise KeyError(f"the config has no key {key!r}")
            target[last] = value
        return freeze(config)

    def thaw(self):
        """A plain, mutable deep copy (dicts and lists)."""
        return thaw(self)


def freeze(value):
    """`value` with every dict a `FrozenDict` and every list or tuple a `FrozenList`."""
    if isinstance(value, dict):
        return value if isinstance(value, FrozenDict) else FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return value if isinstance(value, FrozenList) else FrozenList(freeze(v) for v in value)
    return value


def thaw(value):
    """`value` as plain dicts and lists, deep-copied."""
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [thaw(v) for v in value]
    return value


# yaml.safe_dump(config) as it would dump the dicts and lists: representers for kseg's own types
yaml.SafeDumper.add_representer(FrozenDict, yaml.representer.SafeRepresenter.represent_dict)
yaml.SafeDumper.add_representer(FrozenList, yaml.representer.SafeRepresenter.represent_list)
