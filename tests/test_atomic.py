"""Atomic writes (kseg/atomic.py): a file or folder appears whole under its name or not at all,
with ordinary permissions, and only dead writers' staging is cleared."""

import os
import subprocess
import sys

import pytest

from kseg.atomic import atomic_path, remove_stale_staging, staging_name, write_json, write_text


def test_a_failed_write_leaves_the_old_file_and_no_litter(tmp_path):
    path = tmp_path / "result.json"
    write_json(str(path), {"steps": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(str(path)) as tmp:
            with open(tmp, "w") as f:
                f.write('{"steps": ')  # half written
            raise RuntimeError("disk full")
    assert path.read_text() == '{\n  "steps": 1\n}\n' and os.listdir(tmp_path) == ["result.json"]


def test_a_folder_is_replaced_whole(tmp_path):
    target = tmp_path / "export"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_path(str(target)) as tmp:
        os.makedirs(tmp)
        write_text(os.path.join(tmp, "new.txt"), "new")
    assert os.listdir(target) == ["new.txt"] and os.listdir(tmp_path) == ["export"]


def test_files_get_the_umasks_permissions_not_mkstemps(tmp_path):
    umask = os.umask(0o022)
    try:
        write_text(str(tmp_path / "a.txt"), "x")
    finally:
        os.umask(umask)
    assert os.stat(tmp_path / "a.txt").st_mode & 0o777 == 0o644


def test_only_the_staging_of_writers_that_are_gone_is_removed(tmp_path):
    mine = staging_name(str(tmp_path / "model.keras"))  # this process: alive
    open(mine, "w").close()
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = mine.replace(f"tmp-{os.getpid()}@", f"tmp-{int(child.stdout)}@")  # that process has exited
    open(dead, "w").close()
    (tmp_path / "model.keras").write_text("done")
    assert remove_stale_staging(str(tmp_path)) == [dead]
    assert sorted(os.listdir(tmp_path)) == sorted([os.path.basename(mine), "model.keras"])

