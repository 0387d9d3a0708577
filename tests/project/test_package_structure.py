"""The package's shape: imports point one way (no module of kseg imports itself back through
others; only kseg.training, the families' task and config modules and the demo command import
kseg.training), no module outside a family's folder names a family, and functions stay short
enough to read."""

import ast
import os
from tests import REPO

ROOT = os.path.join(REPO, "kseg")


def _modules():
    modules = {}
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                dotted = "kseg" + path[len(ROOT):-3].replace(os.sep, ".")
                modules[dotted[: -len(".__init__")] if dotted.endswith(".__init__") else dotted] = path
    return modules


def _imports(module, path, modules):
    """Every kseg module `module` imports, at the top or inside functions."""
    package = module if path.endswith("__init__.py") else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {name for name in found if name in modules and name != module}


def _graph():
    modules = _modules()
    return {module: _imports(module, path, modules) for module, path in modules.items()}


def _cycles(graph):
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_kseg_has_no_import_cycles():
    assert [" -> ".join(cycle) for cycle in _cycles(_graph())] == []


def _may_import_training(module):
    family_task = module.startswith("kseg.models.") and module.endswith((".task", ".config"))
    return module in ("kseg", "kseg.__main__") or module.startswith("kseg.training") or family_task


def test_only_training_imports_training():
    offenders = {
        module: sorted(target for target in targets if target.startswith("kseg.training"))
        for module, targets in _graph().items()
        if not _may_import_training(module)
    }
    assert {module: targets for module, targets in offenders.items() if targets} == {}


MAX_FUNCTION_LINES = 80


def test_no_function_in_kseg_is_longer_than_80_lines():
    long = []
    for module, path in _modules().items():
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{module}.{node.name}: {lines} lines")
    assert long == []
