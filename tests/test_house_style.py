"""House style the reviewers read for, kept by a test: a function of more than four
parameters takes the rest by keyword (a call then says what each value is), across every
module of ``connector/`` including the sandbox.

Exempt: methods that override a library's own signature, which the library calls
positionally (listed by module and name)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "connector"
MAX_POSITIONAL = 4
LIBRARY_SIGNATURES = {("adapters/transport.py", "merge_environment_settings")}  # requests.Session's


def too_positional(source: str) -> list[tuple[int, str, int]]:
    """(line, name, count) of each function taking more than MAX_POSITIONAL positional
    parameters besides self/cls."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args.posonlyargs + node.args.args
            count = len([a for a in args if a.arg not in ("self", "cls")])
            if count > MAX_POSITIONAL:
                out.append((node.lineno, node.name, count))
    return out


def test_more_than_four_parameters_are_passed_by_keyword() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE).as_posix()
        offenders += [f"connector/{where}:{line} {name}() takes {count} positional parameters"
                      for line, name, count in too_positional(path.read_text())
                      if (where, name) not in LIBRARY_SIGNATURES]
    assert not offenders, "\n".join(offenders)


def test_the_check_sees_a_positional_function_and_spares_a_keyword_one() -> None:
    source = ("def bad(a, b, c, d, e): ...\n"
              "def good(a, b, c, d, *, e): ...\n"
              "class C:\n    def method(self, a, b, c, d): ...\n")
    assert too_positional(source) == [(1, "bad", 5)]
