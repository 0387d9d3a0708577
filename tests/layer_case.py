"""Shared checks for layers and models (modelled on keras-hub's TestCase)."""

import json
import os

import keras
import numpy as np


def _as_list(x):
    return x if isinstance(x, (list, tuple)) else [x]


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_data,
    expected_output_shape,
    expected_num_trainable_weights,
    expected_num_non_trainable_weights=0,
    run_training=True,
):
    """Config and JSON round trip, weight counts, symbolic and eager calls, one fit step."""
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    json.dumps(config)  # must be JSON-serialisable as is
    for key in init_kwargs:
        assert key in config, f"get_config() misses constructor argument {key!r}"

    inputs = [keras.ops.convert_to_tensor(x) for x in _as_list(input_data)]
    call_input = inputs if isinstance(input_data, (list, tuple)) else inputs[0]
    output = layer(call_input)
    assert tuple(output.shape) == tuple(expected_output_shape), (output.shape, expected_output_shape)
    assert len(layer.trainable_weights) == expected_num_trainable_weights
    assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights

    # Round trip through the serialised form, with the same weights: identical output.
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    clone = keras.saving.deserialize_keras_object(serialized)
    clone(call_input)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(clone(call_input)), keras.ops.convert_to_numpy(output), rtol=1e-6, atol=1e-6
    )
    assert clone.get_config() == config

    # Symbolic call with unknown spatial size.
    symbolic = [keras.Input(shape=(None, None) + tuple(x.shape[3:])) if len(x.shape) == 4 else keras.Input(shape=tuple(x.shape[1:])) for x in inputs]
    sym_out = layer_cls(**init_kwargs)(symbolic if isinstance(input_data, (list, tuple)) else symbolic[0])
    assert sym_out.shape[-1] == expected_output_shape[-1]

    if run_training:
        fresh = layer_cls(**init_kwargs)
        model_inputs = [keras.Input(shape=tuple(x.shape[1:])) for x in inputs]
        model = keras.Model(
            model_inputs, fresh(model_inputs if isinstance(input_data, (list, tuple)) else model_inputs[0])
        )
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
        model.optimizer.build(model.trainable_variables)  # built inside fit's first trace, it would make fit trace twice
        before = [w.copy() for w in model.get_weights()]
        target = np.zeros(tuple(output.shape), dtype="float32")
        history = model.fit([keras.ops.convert_to_numpy(x) for x in inputs], target, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        changed = [not np.array_equal(a, b) for a, b in zip(before, model.get_weights())]
        assert any(changed), "one fit step changed no weight"
    return layer, output


def run_model_saving_test(model, input_data, tmp_path, atol=1e-5):
    """Save as .keras, reload, and compare outputs."""
    expected = keras.ops.convert_to_numpy(model(input_data, training=False))
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model)
    if type(model).__module__.startswith("kseg"):  # kseg models: config holds exactly the constructor args
        # compared as JSON: a tuple saved is a list loaded
        assert json.loads(json.dumps(restored.get_config())) == json.loads(json.dumps(model.get_config()))
    actual = keras.ops.convert_to_numpy(restored(input_data, training=False))
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=1e-5)
    return restored
