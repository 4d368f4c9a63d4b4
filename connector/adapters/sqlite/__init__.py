"""sqlite: the state file (ledger, staging, scoring, lifecycle, write-back tables).

One process-wide setting is made here, on first import of any of them: how ``None`` is bound.
Python's sqlite3 module binds an exact int, float, str or bytearray directly and sends every
other parameter, ``None`` included, through its adapter registry (CPython
``Modules/_sqlite/cursor.c``, ``need_adapt``; ``microprotocols.c``), where a miss costs a key
tuple, a dictionary lookup and two failed attribute lookups before ``None`` is bound as NULL
after all. The ledger's statements bind about ten NULLs per response (ids not yet known, no
error, no owner picked), so that miss was several percent of a sync's CPU. Registering an
adapter for ``None`` that returns ``None`` turns the miss into a hit: the same NULL is bound,
about three times faster per NULL (``tests/test_sqlite_binding.py`` pins that the value
stored is NULL; ``bench/null_binding.py`` prints the figure). Nothing else changes:
``sqlite3.register_adapter`` is the module's public way to say how a type is bound, and
``None`` is not one of the base types whose registration turns the fast path off.
"""

import sqlite3


def _null(value: None) -> None:
    """None binds as NULL (``sqlite3`` binds a ``None`` an adapter returns as NULL)."""
    return None


sqlite3.register_adapter(type(None), _null)
