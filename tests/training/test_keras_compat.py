"""The multi-worker workarounds (kseg/training/keras_compat.py) apply only to the Keras versions
they were written for. (The multi-worker runs they make work: tests/training/test_distribute.py.)"""


def test_keras_workaround_is_tied_to_tested_versions(monkeypatch):
    import keras

    from kseg.training import keras_compat

    monkeypatch.setattr(keras, "__version__", "3.99.0")
    assert not keras_compat.needs_patch()
    monkeypatch.setattr(keras, "__version__", "3.15.1")
    assert keras_compat.needs_patch()
