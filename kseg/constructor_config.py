"""`get_config` written once for kseg's functional models: the constructor's arguments."""

import inspect

import keras


def _plain(value):
    """`value` as JSON would give it back: tuples as lists, at any depth."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


WEIGHT_SOURCES = ("weights", "backbone_weights")  # constructor arguments naming pretrained weights to fetch or read


def without_weight_sources(config):
    """`config` without `WEIGHT_SOURCES` keys at any depth: a saved model carries its own
    weights, and a `.keras` file's config (which anyone can edit) must not make loading
    download weights or read a file other than itself."""
    if isinstance(config, dict):
        return {key: without_weight_sources(value) for key, value in config.items() if key not in WEIGHT_SOURCES}
    if isinstance(config, list):
        return [without_weight_sources(value) for value in config]
    return config


def _is_serialized_object(value):
    return isinstance(value, dict) and "class_name" in value and "config" in value


class ConstructorConfigModel(keras.Model):
    """A functional `keras.Model` whose config is the arguments its constructor was called with.

    kseg's models and backbones build their graph in `__init__` from a few arguments; this
    base records those arguments (defaults filled in) when the object is created, so
    `get_config()` returns exactly them and `from_config(config)` calls the constructor
    again: no subclass lists its arguments a second time. Keras objects among the
    arguments (a backbone model given as `backbone=`) are stored with
    `keras.saving.serialize_keras_object` and rebuilt by `from_config`. Arguments named in
    `NOT_IN_CONFIG` (pretrained-weight sources: the saved model carries the weights
    themselves) are left out.
    """

    NOT_IN_CONFIG = WEIGHT_SOURCES

    def __new__(cls, *args, **kwargs):
        instance = super().__new__(cls, *args, **kwargs)
        try:
            bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
        except TypeError:  # a bad call: __init__ raises the error users should see
            return instance
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        arguments.pop("self")
        for name, parameter in inspect.signature(cls.__init__).parameters.items():
            if parameter.kind == parameter.VAR_KEYWORD:
                arguments.update(arguments.pop(name, {}))
            elif parameter.kind == parameter.VAR_POSITIONAL:
                arguments.pop(name, None)
        object.__setattr__(instance, "_constructor_arguments", arguments)  # before Keras tracking exists
        return instance

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        for key, value in getattr(self, "_constructor_arguments", {}).items():
            if key in self.NOT_IN_CONFIG or key in config:
                continue
            if isinstance(value, keras.layers.Layer):
                value = keras.saving.serialize_keras_object(value)
            config[key] = _plain(value)
        return _with_checkpoint_structure(self, config)

    @classmethod
    def from_config(cls, config):
        config = {
            key: keras.saving.deserialize_keras_object(value) if _is_serialized_object(value) else value
            for key, value in without_weight_sources(config).items()
        }
        return cls(**config)


def _with_checkpoint_structure(model, config):
    """Record in `backbone_options` the structure a pretrained checkpoint gave the named
    backbone (a timm ResNet's stem, stride position, shortcut), so that `from_config`,
    which has no weights to read it from, rebuilds the same network. Keys that are the
    model's own arguments (PAN's `deep_stem`) already hold their value."""
    structure = getattr(getattr(model, "backbone", None), "checkpoint_structure", None)
    if not structure or not isinstance(config.get("backbone"), str) or "backbone_options" not in config:
        return config
    own = inspect.signature(type(model).__init__).parameters
    recorded = {key: _plain(value) for key, value in structure.items() if key not in own}
    return {**config, "backbone_options": {**(config["backbone_options"] or {}), **recorded}}
