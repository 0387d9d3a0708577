"""The README stays a short guide and every page it and docs/ link to exists; the
configuration reference is the schema's own."""

import os
import re
from tests import REPO

ROOT = REPO


def _read(*parts):
    with open(os.path.join(ROOT, *parts)) as f:
        return f.read()


def _pages():
    yield "README.md", _read("README.md")
    for name in sorted(os.listdir(os.path.join(ROOT, "docs"))):
        if name.endswith(".md"):
            yield os.path.join("docs", name), _read("docs", name)


def test_readme_is_a_short_guide_starting_with_install_run_and_test():
    readme = _read("README.md")
    assert len(readme.encode()) <= 16 * 1024
    commands = re.findall(r"^(pip install .*)$", readme, flags=re.M)
    assert commands[:2] == [
        'pip install -e . && python -m training.fit               # train a small PAN on the built-in data, evaluate, export',
        'pip install -e ".[test]" && python -m pytest             # run the test suite',
    ]


def test_every_relative_link_resolves():
    dead = []
    for page, text in _pages():
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" in target:
                continue
            if not os.path.exists(os.path.normpath(os.path.join(ROOT, os.path.dirname(page), target))):
                dead.append(f"{page} -> {target}")
    assert dead == []


def test_no_page_cites_files_outside_the_repository():
    assert [page for page, text in _pages() if "KERAS3-NOTES" in text or "../shared" in text] == []


def test_configuration_reference_matches_the_schema():
    from kseg.training.schema import reference

    assert reference() in _read("docs", "configuration.md")


def _layout_listing():
    """The files docs/layout.md's tree names: each line `<indent><name>  <what>`, two spaces of
    indent per folder level."""
    block = _read("docs", "layout.md").split("```")[1]
    listed, folders = set(), []
    for line in block.strip("\n").splitlines():
        depth = (len(line) - len(line.lstrip(" "))) // 2
        name = line.split()[0]
        folders = folders[:depth]
        if name.endswith("/"):
            folders.append(name.rstrip("/"))
        else:
            listed.add("/".join(folders + [name]))
    return listed


def test_layout_lists_every_source_file_and_no_other():
    present = set()
    for top in ("kseg", "training", "export"):
        for folder, subfolders, files in os.walk(os.path.join(ROOT, top)):
            subfolders[:] = [name for name in subfolders if name != "__pycache__"]
            present.update(os.path.relpath(os.path.join(folder, name), ROOT) for name in files if name.endswith(".py"))
    listed = _layout_listing()
    assert (sorted(present - listed), sorted(listed - present)) == ([], [])
