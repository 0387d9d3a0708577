"""`kseg.platform`: which kernels this process's TensorFlow runs. Both settings are checked in
child processes by tests/end_to_end/test_portability.py; here, the probe's answer in this process
and the fallback for a TensorFlow without it."""

import pytest

from kseg import platform


@pytest.fixture
def fresh_probe():
    platform.onednn_enabled.cache_clear()
    yield
    platform.onednn_enabled.cache_clear()


def test_the_probe_is_what_the_loaded_library_reports(fresh_probe):
    from tensorflow.python.util import _pywrap_util_port

    assert platform.onednn_enabled() is bool(_pywrap_util_port.IsMklEnabled())


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), (None, False)])
def test_without_the_probe_the_variable_decides(fresh_probe, monkeypatch, value, expected):
    from tensorflow.python.util import _pywrap_util_port

    monkeypatch.delattr(_pywrap_util_port, "IsMklEnabled")
    if value is None:
        monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    else:
        monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", value)
    assert platform.onednn_enabled() is expected


def test_the_answer_is_asked_once(fresh_probe, monkeypatch):
    first = platform.onednn_enabled()
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0" if first else "1")  # read when TensorFlow loads, not later
    assert platform.onednn_enabled() is first

