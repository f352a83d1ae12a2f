"""Package exports: lazy (names imported on first use) but exactly what eager imports gave."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import types
from pathlib import Path

import pytest


@pytest.mark.parametrize("package", ["kinnsci.data", "kinnsci.train", "kinnsci.physics"])
def test_every_exported_name_resolves_to_what_it_names(package):
    mod = importlib.import_module(package)
    assert mod.__all__ == sorted(mod.__all__) and mod.__all__
    for name in mod.__all__:
        value = getattr(mod, name)
        assert not isinstance(value, types.ModuleType), (package, name)
        assert name in dir(mod)
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        mod.no_such_name  # noqa: B018


def test_no_exported_name_is_also_a_submodule_and_editors_see_every_export():
    """``kinnsci.train.rollout`` is the function only (the module is ``rollouts``); every
    lazy export is imported under ``TYPE_CHECKING`` too, so type checkers and editors
    resolve it (no module needs a special class to keep its exports)."""
    code = ("import kinnsci.train.trainer, kinnsci.train.rollouts, kinnsci.train.evaluation\n"
            "from kinnsci.train import evaluate, rollout\n"
            "import kinnsci.train as t\n"
            "print(callable(rollout), callable(evaluate), callable(t.rollout), "
            "callable(t.evaluate), type(t).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True"] * 4 + ["module"]
    for package in ("kinnsci.data", "kinnsci.train", "kinnsci.physics"):
        mod = importlib.import_module(package)
        path = Path(mod.__file__)
        tree = ast.parse(path.read_text())
        guarded = {alias.asname or alias.name
                   for node in ast.walk(tree) if isinstance(node, ast.If)
                   and getattr(node.test, "id", None) == "TYPE_CHECKING"
                   for stmt in node.body if isinstance(stmt, ast.ImportFrom)
                   for alias in stmt.names}
        assert guarded == set(mod.__all__), (package, set(mod.__all__) ^ guarded)
        submodules = {p.stem for p in path.parent.iterdir()}
        assert not set(mod.__all__) & submodules, package


# --- the import structure: layers only import downwards, and no module cycle ----------------
from collections import defaultdict  # noqa: E402

PACKAGE = Path(__file__).resolve().parents[1] / "kinnsci"
# kinnsci/__init__.py: cells, discretize, scan, data, physics -> layers -> models -> train,
# export -> reproduce -> cli; the private helpers at the top level sit below all of them.
LAYERS = {"cells": 1, "discretize": 1, "scan": 1, "data": 1, "physics": 1, "layers": 2,
          "models": 3,
          "train": 4, "export": 4, "reproduce": 5, "cli": 6}


def _imports() -> dict[str, set[str]]:
    """module -> the kinnsci modules it imports, at any depth of its code (lazy imports
    inside functions count: a cycle through them is still a cycle)."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    edges = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            else:
                continue
            edges[name] |= {m for m in found if m in modules and m != name}
    return edges


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1], 0) if len(parts) > 1 else 7


def test_no_module_imports_a_higher_layer():
    upward = sorted((m, t) for m, targets in _imports().items() for t in targets
                    if _layer(t) > _layer(m) and t != "kinnsci")
    assert upward == [], upward


def test_no_import_cycle_between_modules():
    """Package ``__init__`` files only re-export; between the modules themselves there is
    no cycle (models/io.py and models/registry.py used to import each other, so a model
    could not be saved without the registry)."""
    edges = _imports()
    packages = {m for m in edges if (PACKAGE.parent / m.replace(".", "/") / "__init__.py")
                .exists()}
    graph = {m: targets - packages for m, targets in edges.items() if m not in packages}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle.extend(path[path.index(nxt):] + [node, nxt] if nxt in path
                             else [node, nxt])
                return True
            if state.get(nxt) is None and visit(nxt, path + [node]):
                return True
        state[node] = 2
        return False

    for module in sorted(graph):
        if state.get(module) is None and visit(module, []):
            break
    assert cycle == [], " -> ".join(cycle)
