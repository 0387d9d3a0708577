"""The commands' output arguments (kseg/output_paths.py): local paths, a folder where a folder
goes and a file where a file goes, refused with the reason when parsed."""

import argparse
import os
import re

import pytest

from kseg.output_paths import local_path, output_file, output_folder, output_folder_or_url


@pytest.mark.parametrize("path", ["runs/a", "/abs/b", "C:/x", "file.txt", "weird:name/x", "./gs://x"])
def test_local_paths_pass(path):
    assert local_path(path) == path


@pytest.mark.parametrize("path, scheme", [("gs://b/x", "gs"), ("s3://b", "s3"), ("ram://x/y", "ram"), ("hdfs+x://n/p", "hdfs+x")])
def test_urls_are_refused_naming_their_scheme(path, scheme):
    with pytest.raises(argparse.ArgumentTypeError, match=f"^{re.escape(path)} is a {re.escape(scheme)}:// URL.*local folder '{re.escape(scheme)}:'"):
        local_path(path)


def test_a_folder_argument_takes_a_new_or_existing_folder_and_refuses_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    for path in ("adir", "adir/new/deeper", "new"):
        assert output_folder(str(tmp_path / path)) == str(tmp_path / path)
    with pytest.raises(argparse.ArgumentTypeError, match=r"afile is a file; give a folder$"):
        output_folder(str(tmp_path / "afile"))
    with pytest.raises(argparse.ArgumentTypeError, match=r"afile/run is under .*afile, which is a file, not a folder$"):
        output_folder(str(tmp_path / "afile" / "run"))


def test_a_file_argument_takes_a_new_or_existing_file_and_refuses_a_folder(tmp_path):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    for path in ("afile", "adir/m.onnx", "new/m.onnx"):
        assert output_file(str(tmp_path / path)) == str(tmp_path / path)
    with pytest.raises(argparse.ArgumentTypeError, match=r"adir is a folder; give the path of the file to write$"):
        output_file(str(tmp_path / "adir"))
    with pytest.raises(argparse.ArgumentTypeError, match=r"afile/m.onnx is under .*afile, which is a file, not a folder$"):
        output_file(str(tmp_path / "afile" / "m.onnx"))
    assert sorted(os.listdir(tmp_path)) == ["adir", "afile"]  # checking makes nothing


def test_the_export_folder_may_also_be_a_url(tmp_path):
    (tmp_path / "afile").write_text("x")
    assert output_folder_or_url("gs://bucket/models") == "gs://bucket/models"
    assert output_folder_or_url(str(tmp_path / "models")) == str(tmp_path / "models")
    with pytest.raises(argparse.ArgumentTypeError, match=r"afile is a file; give a folder$"):
        output_folder_or_url(str(tmp_path / "afile"))
    assert output_folder_or_url("file:///tmp/runs/x") == "file:///tmp/runs/x"
    assert output_folder_or_url("gs://bucket/runs/x/") == "gs://bucket/runs/x/"
    for url in ("gs://", "gs:///", "gs://bucket/../other", "gs://bucket/./x", "gs://bucket//x"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"expected a folder URL like gs://bucket/path, without '.', '..' or '//' in its path$"):
            output_folder_or_url(url)
