"""The shape of the code: no import cycles, each package used through its public surface,
and the scheduler (a module, which the import contract of pyproject.toml cannot take)
above the workflows like the other entry points."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import grimp

from tests.support.db import REPO

PACKAGES = ("models", "rules", "workflows", "fengqiao")
# Modules of a package that others import by their own name: they import Prefect, which
# nothing else should pay for (workflows.engine's __init__ says so).
IMPORTED_BY_NAME = {"workflows.engine.flows", "workflows.engine.deploy"}


def _modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, path
    yield "scheduler", REPO / "scheduler.py"


def _imports(path: Path) -> Iterator[tuple[str, list[str]]]:
    """(module imported from, names imported) for every import in the file, even those
    inside functions."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []


def _package_of(module: str) -> str:
    """The feature package a module belongs to: ``workflows.changes`` for
    ``workflows.changes.plan``; a top-level package's own modules for the others."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "workflows" else parts[0]


def test_no_module_imports_itself_round_a_cycle() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    cycles = []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def connect(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                connect(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            connect(module)
    assert cycles == []


def test_the_scheduler_is_an_entry_point_over_the_workflows() -> None:
    imported = {module for module, _ in _imports(REPO / "scheduler.py")}
    assert not {m for m in imported if m.split(".")[0] == "fengqiao"}
    assert "workflows.engine" in imported


def test_no_module_imports_another_packages_private_names_or_inner_modules() -> None:
    ours = {name for name, _ in _modules()}
    trespasses = []
    for name, path in _modules():
        for module, names in _imports(path):
            if module.split(".")[0] not in (*PACKAGES, "scheduler"):
                continue
            foreign = _package_of(module) != _package_of(name)
            private = [n for n in names if n.startswith("_")]
            if foreign and private:
                trespasses.append(f"{name}: from {module} import {', '.join(private)}")
            inner = module.count(".") >= 2 and module.startswith("workflows.")
            if foreign and inner and module in ours and module not in IMPORTED_BY_NAME:
                trespasses.append(f"{name}: imports {module}, not its package")
    assert trespasses == []
