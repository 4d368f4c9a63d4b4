"""The sandbox's modules import one another one way only (no cycles, late imports included).

Cycles hid behind function-level and TYPE_CHECKING imports (faults -> server for DROP,
bulk_api <-> salesforce_api); this walks every ``from .x import`` in each module, wherever
it sits, so a new late import that closes a loop fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import connector.sandbox as sandbox_pkg

PKG = Path(sandbox_pkg.__file__).parent


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PKG.glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    deps.add(node.module.split(".")[0])
                else:
                    deps.update(alias.name for alias in node.names)
        graph[path.stem] = deps - {path.stem}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep in graph and dep not in state:
                found = visit(dep, path + [dep])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_sandbox_imports_have_no_cycle() -> None:
    graph = _graph()
    assert {"server", "faults", "bulk_api", "salesforce_api", "drop"} <= set(graph)
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_leaf_modules_import_nothing_from_the_package() -> None:
    graph = _graph()
    assert graph["drop"] == set()
    assert graph["http"] == set()
    assert "server" not in graph["faults"]
    assert "salesforce_api" not in graph["bulk_api"]


def test_drop_is_the_same_object_everywhere() -> None:
    from connector.sandbox import drop, faults, server
    assert server.DROP is drop.DROP
    assert faults.DROP is drop.DROP
