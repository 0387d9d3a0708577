"""kseg's tests: tests/<path>/test_<module>.py checks kseg/<path>/<module>.py (a package's
public API: tests/<package path>/test_<package>.py), tests/commands/ the `training` and `export`
commands, tests/benchmarks/ the benchmark scripts, tests/end_to_end/ whole runs across modules,
tests/project/ the repository itself (docs, import layering). tests/project/test_tests_mirror.py
checks the layout."""

import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository's root folder
