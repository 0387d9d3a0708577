"""The import hook of kseg/_keras_registrations.py in this process: registration runs once,
after Keras has loaded and only when no kseg module is half imported, and the hook then leaves
`sys.meta_path`. The import orders in fresh interpreters are in tests/project/test_light_import.py."""

import importlib
import sys

import pytest

from kseg import _keras_registrations

CALLS = []  # what the patched `register` was asked to do


@pytest.fixture
def probe_modules(tmp_path, monkeypatch):
    """kseg._probe_outer imports kseg._probe_inner; each records whether registration has run yet."""
    import kseg

    (tmp_path / "_probe_outer.py").write_text("from tests.test_keras_registrations import CALLS\nimport kseg._probe_inner\nSEEN = list(CALLS)\n")
    (tmp_path / "_probe_inner.py").write_text("from tests.test_keras_registrations import CALLS\nSEEN = list(CALLS)\n")
    monkeypatch.setattr(kseg, "__path__", [*kseg.__path__, str(tmp_path)])
    monkeypatch.setattr(_keras_registrations, "register", lambda: CALLS.append("registered"))
    yield
    CALLS.clear()
    for name in ("kseg._probe_outer", "kseg._probe_inner"):
        sys.modules.pop(name, None)


def test_registration_waits_for_keras_and_for_the_outermost_kseg_import(probe_modules, monkeypatch):
    hook = _keras_registrations._RegisterAfterKeras()
    monkeypatch.setattr(sys, "meta_path", [hook, *sys.meta_path])
    hook.keras_loaded = True  # as after `import keras`: the next whole kseg import registers
    import kseg._probe_outer

    assert kseg._probe_inner.SEEN == [] and kseg._probe_outer.SEEN == []  # neither saw it: both were still loading
    assert CALLS == ["registered"] and hook not in sys.meta_path  # once, after both, and the hook is gone


def test_kseg_modules_loaded_before_keras_register_nothing(probe_modules, monkeypatch):
    hook = _keras_registrations._RegisterAfterKeras()
    monkeypatch.setattr(sys, "meta_path", [hook, *sys.meta_path])
    importlib.import_module("kseg._probe_outer")

    assert CALLS == [] and hook in sys.meta_path and hook.kseg_modules_executing == 0


def test_with_keras_loaded_registration_runs_at_once(monkeypatch):
    monkeypatch.setattr(_keras_registrations, "register", lambda: CALLS.append("registered"))
    before = list(sys.meta_path)
    try:
        _keras_registrations.register_when_keras_loads()  # keras is in sys.modules in the test process
        assert CALLS == ["registered"] and sys.meta_path == before
    finally:
        CALLS.clear()
