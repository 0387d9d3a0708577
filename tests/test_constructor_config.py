"""`ConstructorConfigModel`: a functional model's config is the arguments its constructor was
called with (defaults filled in, tuples as JSON gives them back, Keras objects serialised,
weight sources left out), and `from_config` calls the constructor again."""

import json

import keras
import numpy as np
import pytest

from kseg.constructor_config import ConstructorConfigModel, without_weight_sources


class Toy(ConstructorConfigModel):
    """A conv with `filters`, `kernel_size` and an optional preceding layer; `weights` stands for a
    pretrained-weight source (kseg's backbones load from it)."""

    def __init__(self, filters, kernel_size=(3, 3), before=None, weights=None, **kwargs):
        inputs = keras.Input((None, None, 3))
        x = before(inputs) if before is not None else inputs
        super().__init__(inputs, keras.layers.Conv2D(filters, kernel_size, padding="same", name="conv")(x), **kwargs)
        self.weights_source = weights


def test_the_config_is_the_constructor_arguments_with_defaults():
    config = Toy(4, name="toy").get_config()
    assert config == {"name": "toy", "trainable": True, "filters": 4, "kernel_size": [3, 3], "before": None}
    assert json.loads(json.dumps(config)) == config  # what a .keras file gives back


def test_from_config_rebuilds_the_same_network_and_keras_objects_round_trip():
    model = Toy(2, kernel_size=(1, 1), before=keras.layers.Rescaling(0.5, name="half"), name="toy")
    config = json.loads(json.dumps(model.get_config()))
    assert config["before"]["class_name"] == "Rescaling"
    rebuilt = Toy.from_config(config)
    rebuilt.set_weights(model.get_weights())
    x = np.random.default_rng(0).uniform(0, 255, (1, 5, 5, 3)).astype("float32")
    np.testing.assert_array_equal(rebuilt(x).numpy(), model(x).numpy())
    assert rebuilt.get_layer("conv").kernel.shape == (1, 1, 3, 2)


def test_weight_sources_never_reach_the_config_or_a_rebuild(tmp_path):
    config = Toy(2, weights="imagenet").get_config()
    assert "weights" not in config
    # an edited .keras config cannot make loading fetch or read weights
    edited = {**config, "weights": str(tmp_path / "elsewhere.h5"), "nested": [{"backbone_weights": "imagenet", "keep": 1}]}
    assert without_weight_sources(edited)["nested"] == [{"keep": 1}] and "weights" not in without_weight_sources(edited)
    assert Toy.from_config({**config, "weights": "imagenet"}).weights_source is None


def test_a_bad_call_raises_the_constructors_own_error():
    with pytest.raises(TypeError, match="filters"):
        Toy()
