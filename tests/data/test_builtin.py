"""The built-in dataset's folder (kseg/data/builtin.py): generated only into the cache or an
empty folder, never over a user's files."""

import os

import pytest


def test_builtin_format_generates_only_into_the_cache_or_an_empty_folder(tmp_path, monkeypatch):
    from kseg.data import DataError, builtin, builtin_root

    monkeypatch.setattr(builtin, "SPLITS", {"train": 3, "val": 2, "coarse": 2})  # the folder logic, not the pictures

    with pytest.raises(DataError, match=r"data.root=.*nowhere: no such folder.*set data.format"):
        builtin_root(str(tmp_path / "nowhere"))
    real = tmp_path / "VOCdevkit"
    (real / "JPEGImages").mkdir(parents=True)
    with pytest.raises(DataError, match="holds files but not the built-in dataset: for your own data set data.format"):
        builtin_root(str(real))
    assert os.listdir(real) == ["JPEGImages"]  # untouched
    empty = tmp_path / "empty"
    empty.mkdir()
    root = builtin_root(str(empty))
    assert root == str(empty) and os.path.isfile(empty / "COMPLETE")
    assert builtin_root(root) == root  # used as it is the next time
