"""`save_model_atomically`: a run's `.keras` model appears whole under its name or not at all;
a save that fails (a full disk) leaves the previous model and no staging file behind. The
exports of a run are checked through whole runs (tests/commands/test_fit.py, tests/end_to_end/)."""

import os

import keras
import numpy as np
import pytest

from kseg.training.artefacts import save_model_atomically


def _model(seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, 3))
    return keras.Model(inputs, keras.layers.Conv2D(2, 1, name="conv")(inputs))


def test_the_saved_model_loads_and_nothing_else_is_left(tmp_path):
    path = str(tmp_path / "model.keras")
    model = _model(0)
    assert save_model_atomically(model, path) == path
    assert os.listdir(tmp_path) == ["model.keras"]
    np.testing.assert_array_equal(keras.saving.load_model(path).get_weights()[0], model.get_weights()[0])


def test_a_failed_save_keeps_the_previous_model_and_leaves_no_staging_file(tmp_path, monkeypatch):
    path = str(tmp_path / "model.keras")
    save_model_atomically(_model(0), path)
    before = open(path, "rb").read()
    newer = _model(1)

    def full_disk(target, *args, **kwargs):
        with open(target, "wb") as f:
            f.write(b"half a zip")  # what a write cut short leaves
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(newer, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        save_model_atomically(newer, path)
    assert os.listdir(tmp_path) == ["model.keras"] and open(path, "rb").read() == before
