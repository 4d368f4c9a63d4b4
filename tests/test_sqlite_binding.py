"""The process-wide None adapter ``connector.adapters.sqlite`` registers (see its docstring):
it must only make binding ``None`` cheaper, never change what is stored."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from connector.adapters.sqlite.ledger import State


def test_importing_the_state_registers_the_none_adapter() -> None:
    assert (type(None), sqlite3.PrepareProtocol) in sqlite3.adapters
    assert sqlite3.adapt(None) is None


def test_none_is_still_stored_as_null_and_other_types_unchanged(tmp_path: Path) -> None:
    state = State.open(tmp_path / "leadsync.db")
    conn = state.db.conn
    conn.execute("CREATE TABLE t (a, b, c, d)")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?)",
                     [(None, 1, 1.5, "x"), (None, None, None, None)])
    assert conn.execute("SELECT COUNT(*) FROM t WHERE a IS NULL").fetchone()[0] == 2
    assert conn.execute("SELECT typeof(a), typeof(b), typeof(c), typeof(d) FROM t "
                        "ORDER BY rowid").fetchall() == [
        ("null", "integer", "real", "text"), ("null", "null", "null", "null")]
    assert conn.execute("SELECT ? IS NULL, ?", (None, None)).fetchone() == (1, None)


def test_with_and_without_the_adapter_the_rows_are_the_same() -> None:
    """The same statements in two fresh processes, one that never imports leadsync."""
    code = ("import sqlite3, sys\n"
            "if sys.argv[1] == 'leadsync': import connector.adapters.sqlite\n"
            "c = sqlite3.connect(':memory:'); c.execute('CREATE TABLE t (a, b)')\n"
            "c.executemany('INSERT INTO t VALUES (?, ?)', [(None, 1), (None, None)])\n"
            "print((type(None), sqlite3.PrepareProtocol) in sqlite3.adapters,\n"
            "      c.execute('SELECT typeof(a), typeof(b), a, b FROM t ORDER BY rowid').fetchall())")
    out = {side: subprocess.run([sys.executable, "-c", code, side], capture_output=True,
                                text=True, check=True).stdout.strip()
           for side in ("plain", "leadsync")}
    rows = "[('null', 'integer', None, 1), ('null', 'null', None, None)]"
    assert out == {"plain": f"False {rows}", "leadsync": f"True {rows}"}
