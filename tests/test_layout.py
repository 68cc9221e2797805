"""The package's layout by stage (README, Development): no import circle between modules,
few modules at the top, and the layer contract in pyproject.toml kept (``lint-imports``,
which .ci/run also runs)."""

from __future__ import annotations

import pkgutil
import sys
from pathlib import Path

import pytest

import judgecli

grimp = pytest.importorskip("grimp", reason="grimp comes with the test extra (import-linter)")


def strongly_connected(graph) -> list[list[str]]:
    """Tarjan's components of more than one module (each is an import circle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in graph.find_modules_directly_imported_by(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_circle() -> None:
    graph = grimp.build_graph("judgecli")
    assert strongly_connected(graph) == []


def test_a_circle_is_found() -> None:  # the check itself can fail
    graph = grimp.build_graph("judgecli")
    graph.add_import(importer="judgecli.errors", imported="judgecli.io.jsonl")
    assert any("judgecli.errors" in c for c in strongly_connected(graph))


def test_few_modules_at_the_top() -> None:
    top = [m.name for m in pkgutil.iter_modules(judgecli.__path__) if not m.ispkg]
    assert len(top) <= 8, top
    assert (Path(judgecli.__file__).parent / "py.typed").exists()


def test_layers_kept() -> None:
    importlinter = pytest.importorskip("importlinter.cli")
    root = Path(__file__).resolve().parents[1]
    if not (root / "pyproject.toml").exists():
        pytest.skip("not a source checkout")
    import os

    here = os.getcwd()
    os.chdir(root)
    try:
        assert importlinter.lint_imports(config_filename="pyproject.toml") == 0
    finally:
        os.chdir(here)
