"""connector/core/ stays pure: no module under it imports I/O or a layer above it.

The core rooms take plain data and return plain data, so every rule is a table test and
the engine decides when the network, the ledger or the clock is touched. This walks every
module under connector/core/ with ``ast`` (imports inside functions and under
``TYPE_CHECKING`` included: a lazy import is still a dependency) and names each offender.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "connector" / "core"

# What connector/core/ must never import (a module or anything under it):
FORBIDDEN = (
    # the network and other processes
    "requests",
    "socket",
    "urllib.request",
    "subprocess",
    # the vendors' SDKs
    "simple_salesforce",
    "hubspot",
    # the ledger's storage
    "sqlite3",
    "sqlite_utils",
    # the clock (time.time, time.sleep): the engine passes "now" in
    "time",
    # the layers above core
    "connector.adapters",
    "connector.engine",
    "connector.commands",
)


def _modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, dotted name) of every import; ``from a import b`` counts as a and a.b."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _forbidden(name: str) -> str | None:
    return next((f for f in FORBIDDEN if name == f or name.startswith(f + ".")), None)


def test_core_has_modules_to_check():
    assert len(_modules()) > 10     # the walk found the package, not an empty folder


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(CORE)))
def test_a_core_module_imports_no_io_and_no_layer_above(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    offences = sorted({f"line {line}: {name} (forbidden: {bad})"
                       for line, name in _imported(tree) if (bad := _forbidden(name))})
    assert not offences, f"connector/core/{path.relative_to(CORE)} imports " + "; ".join(offences)


def test_the_check_catches_what_it_should():
    tree = ast.parse("import time\nfrom connector.adapters.sqlite import ledger\n"
                     "from urllib import request\nimport urllib.parse\nfrom datetime import time\n"
                     "def f():\n    import requests\n")
    names = {name for _, name in _imported(tree) if _forbidden(name)}
    assert names == {"time", "connector.adapters.sqlite", "connector.adapters.sqlite.ledger",
                     "urllib.request", "requests"}
