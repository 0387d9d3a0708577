"""The run folder's layout is named in one place (`kseg.run_folder.RunFolder`), and its
docstring's tree lists every file it names."""

import os
import re

from kseg.run_folder import RunFolder


def test_paths_of_a_run_and_of_a_file_inside_it(tmp_path):
    run = RunFolder(str(tmp_path))
    assert run.model == os.path.join(str(tmp_path), "model.keras")
    assert run.best_result == os.path.join(str(tmp_path), "best", "result.json")
    assert RunFolder.of(run.model) == run == RunFolder.of(str(tmp_path))
    assert run.stage(2, "coarse").result == os.path.join(str(tmp_path), "stage-2-coarse", "result.json")
    assert run.worker(1).path == os.path.join(str(tmp_path), "worker-1")
    assert not run.has_checkpoint
    os.makedirs(run.checkpoints)
    open(os.path.join(run.checkpoints, "checkpoint"), "w").close()
    assert run.has_checkpoint


def test_the_docstring_tree_names_every_path_the_class_gives():
    import kseg.run_folder

    tree = kseg.run_folder.__doc__
    run = RunFolder("/r")
    named = {
        name: getattr(run, name) for name, value in vars(RunFolder).items() if isinstance(value, property) and name != "has_checkpoint"
    }
    for name, path in named.items():
        first = os.path.relpath(path, "/r").split(os.sep)[0]
        assert re.search(rf"^\s+{re.escape(first)}/?\s", tree, flags=re.M), f"{name}: {first} is not in the tree"



import pytest  # noqa: E402

COMMANDS_READING_A_MODEL = {  # the command and the rest of a valid command line
    "training.predict": ["--images", "{tmp}/a.png", "--out", "{tmp}/o"],
    "export.saved_model": ["--out", "{tmp}/o", "--name", "x"],
    "export.onnx": ["--out", "{tmp}/o.onnx"],
    "export.tflite": ["--out", "{tmp}/o.tflite"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS_READING_A_MODEL))
@pytest.mark.parametrize("option", ["--run", "--model"])
def test_every_command_reading_a_model_takes_it_as_run_or_model(command, option, tmp_path, capsys):
    import importlib

    from PIL import Image

    Image.new("RGB", (4, 4)).save(tmp_path / "a.png")
    rest = [a.format(tmp=tmp_path) for a in COMMANDS_READING_A_MODEL[command]]
    try:
        status = importlib.import_module(command).main([option, str(tmp_path / "nope"), *rest])
    except SystemExit as stopped:
        status = stopped.code
    err = capsys.readouterr().err
    assert status == 2 and str(tmp_path / "nope") in err and "required" not in err  # refused for the missing model
