"""tests/ mirrors the source tree (issue 31, item 5): kseg/<path>/<module>.py is checked in
tests/<path>/test_<module>.py (a package's public API in tests/<package path>/test_<package>.py,
kseg/__main__.py in tests/test_main.py, a private kseg/_<module>.py in test_<module>.py); the
commands (training/, export/) in tests/commands/, the benchmark scripts in tests/benchmarks/;
whole runs across modules in tests/end_to_end/ and checks on the repository in tests/project/.
Every module with behaviour has its test file, or is listed below with the tests that check it
through others."""

import os

from tests import REPO

ACROSS_MODULES = ("end_to_end", "project")  # test folders that mirror no one module
COMMANDS = ("training", "export")

# Modules checked only through the tests of the modules that use them (named after each).
# The list only shrinks: a module that gets its own test file must leave it.
CHECKED_THROUGH_OTHERS = {}  # empty since 2026-12-06: every module has its own test file


def _has_behaviour(path):
    """A module with a function or a class (not only imports, names and constants)."""
    with open(os.path.join(REPO, path)) as f:
        return any(line.startswith(("def ", "class ", "async def ")) for line in f)


def _sources():
    found = []
    for top in ("kseg", *COMMANDS):
        for folder, _, names in os.walk(os.path.join(REPO, top)):
            found += [os.path.relpath(os.path.join(folder, n), REPO) for n in names if n.endswith(".py")]
    return sorted(found)


def _test_files():
    found = []
    for folder, _, names in os.walk(os.path.join(REPO, "tests")):
        found += [os.path.relpath(os.path.join(folder, n), REPO) for n in names if n.startswith("test_") and n.endswith(".py")]
    return sorted(found)


def _mirrored(test):
    """The source modules test file `test` (tests/<path>/test_<name>.py) mirrors; None for
    the folders that mirror no one module."""
    folder, name = os.path.split(os.path.relpath(test, "tests"))
    name = name[len("test_"):-len(".py")]
    if folder.split(os.sep)[0] in ACROSS_MODULES:
        return None
    if folder == "commands":
        return [f"{top}/{name}.py" for top in COMMANDS]
    if folder == "benchmarks":
        return [f"benchmarks/{name}.py"]
    base = os.path.join("kseg", folder)
    candidates = [os.path.join(base, f"{name}.py"), os.path.join(base, f"_{name}.py"), os.path.join(base, name, "__init__.py")]
    if name == os.path.basename(folder):
        candidates.append(os.path.join(base, "__init__.py"))
    if name == "main":
        candidates.append(os.path.join(base, "__main__.py"))
    return candidates


def test_every_test_file_mirrors_a_module():
    stray = [test for test in _test_files() if (m := _mirrored(test)) is not None and not any(os.path.isfile(os.path.join(REPO, c)) for c in m)]
    assert not stray, f"test files that mirror no module (rename them, or move whole-run tests to tests/end_to_end/): {stray}"


def test_every_module_with_behaviour_has_its_test_file_or_says_which_tests_check_it():
    tested = {c for test in _test_files() for c in (_mirrored(test) or ())}
    untested = [p for p in _sources() if _has_behaviour(p) and p not in tested]
    missing = sorted(set(untested) - set(CHECKED_THROUGH_OTHERS))
    assert not missing, f"modules with neither a mirrored test file nor an entry in CHECKED_THROUGH_OTHERS: {missing}"
    leave = sorted(set(CHECKED_THROUGH_OTHERS) - set(untested))
    assert not leave, f"these have their own test file (or are gone) now: remove them from CHECKED_THROUGH_OTHERS: {leave}"
    for module, tests in CHECKED_THROUGH_OTHERS.items():
        for path in tests.replace(",", " ").split():
            if path.startswith("tests/"):
                assert os.path.isfile(os.path.join(REPO, path)), f"{module}: {path} does not exist"
