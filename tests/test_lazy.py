"""Attributes imported on first use (kseg/_lazy.py): a listed name loads its module then, an
unlisted one is the usual AttributeError, and `dir()` shows both kinds."""

import sys
import types

import pytest

from kseg._lazy import lazy_attributes


def test_a_name_loads_its_module_on_first_use_only(monkeypatch):
    package = types.ModuleType("lazy_probe")
    package.__path__ = []
    monkeypatch.setitem(sys.modules, "lazy_probe", package)
    getattr_, dir_ = lazy_attributes("lazy_probe", {"dumps": "json", "JSONDecodeError": "json.decoder"})
    assert getattr_("dumps")({"a": 1}) == '{"a": 1}'
    assert getattr_("JSONDecodeError").__name__ == "JSONDecodeError"
    with pytest.raises(AttributeError, match="module 'lazy_probe' has no attribute 'loads'"):
        getattr_("loads")
    package.version = "1"
    assert dir_() == ["JSONDecodeError", "dumps", "version"]
