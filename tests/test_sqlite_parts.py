"""The parts of the SQLite state (lock, stage, cache, schema) on their own, and how the
``State`` facade puts them on one connection."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils

from connector.adapters.sqlite.cache import Cache
from connector.adapters.sqlite.ledger import State
from connector.adapters.sqlite.lock import RunLock, lock_holder, lock_path
from connector.adapters.sqlite.schema import ADDED_COLUMNS, ensure_schema
from connector.adapters.sqlite.staging import Stage
from connector.core.model import Submission
from connector.errors import StateLocked

ROOT = Path(__file__).resolve().parent.parent


def sub(cid: str, at: int) -> Submission:
    return Submission(cid, "A", at, {"email": f"{cid}@example.com"}, None)


# -- lock --------------------------------------------------------------------------------


def test_the_holder_file_sits_beside_the_resolved_state_file(tmp_path):
    (tmp_path / "real.db").touch()
    (tmp_path / "alias.db").symlink_to(tmp_path / "real.db")
    assert lock_path(tmp_path / "alias.db") == (tmp_path / "real.db.lock").resolve()


def test_a_run_lock_names_its_holder_and_frees_on_release(tmp_path):
    path = tmp_path / "s.db"
    mine, theirs = RunLock(path), RunLock(path)
    assert lock_holder(path) is None and not mine.held
    mine.acquire()
    mine.acquire()                      # taken once; a second acquire is a no-op
    assert mine.held and oct(lock_path(path).stat().st_mode & 0o777) == "0o600"
    with pytest.raises(StateLocked, match=f"pid {os.getpid()}"):
        theirs.acquire()
    mine.release()
    assert not mine.held and lock_holder(path) is None
    theirs.acquire()
    theirs.release()


def test_an_in_memory_state_has_no_lock():
    lock = RunLock(None)
    lock.acquire()
    assert not lock.held and lock.holder() is None


def test_status_sees_the_holder_by_the_configured_path(tmp_path):
    """``status`` finds the holder by the configured path, from another process."""
    path = tmp_path / "missing.db"
    code = ("import sys; from pathlib import Path\n"
            "from connector.adapters.sqlite.lock import RunLock\n"
            f"lock = RunLock(Path({str(path)!r})); lock.acquire()\n"
            "print('held', flush=True); sys.stdin.read()\n")
    holder = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert f"pid {holder.pid}" in (State.lock_holder_at(path) or "")
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert State.lock_holder_at(path) is None


@pytest.mark.parametrize("link", ["symlink", "hardlink", "dotdot"])
def test_every_name_of_the_state_file_shares_its_lock(tmp_path, link):
    real = tmp_path / "s.db"
    State.open(real).close()
    (tmp_path / "sub").mkdir()
    alias = {"symlink": tmp_path / "alias.db", "hardlink": tmp_path / "sub" / "other.db",
             "dotdot": tmp_path / "sub" / ".." / "s.db"}[link]
    if link == "symlink":
        alias.symlink_to(real)
    elif link == "hardlink":
        os.link(real, alias)
    first, second = State.open(real), State.open(alias)
    first.lock()
    try:
        with pytest.raises(StateLocked):
            second.lock()
    finally:
        first.close()
        second.close()


# -- stage -------------------------------------------------------------------------------


def test_a_stage_stands_on_any_connection():
    stage = Stage(sqlite_utils.Database(memory=True))
    stage.clear()                           # nothing created yet: nothing to do
    assert stage.stage([sub("b", 2), sub("a", 1), sub("b", 2)]) == 2
    assert stage.count() == 2
    assert [[s.conversion_id for s in b] for b in stage.batches(1)] == [["a"], ["b"]]
    stage.clear()
    assert stage.count() == 0


def test_staging_rolls_back_with_the_states_transaction(tmp_path):
    state = State.open(tmp_path / "s.db")
    # The stage is created before the transaction: created inside one that rolls back, the
    # TEMP table would go with it while the stage still believes it exists (as before the
    # split; no caller stages inside a transaction).
    assert state.staged_count() == 0

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with state.transaction():
            state.stage([sub("a", 1)])
            raise Boom
    assert state.staged_count() == 0
    state.close()


# -- cache -------------------------------------------------------------------------------


def test_a_read_only_cache_reads_but_never_writes(tmp_path):
    path = tmp_path / "s.db"
    writer = State.open(path)
    writer.cache("describe", {"Lead": {}})
    writer.close()
    before = path.read_bytes()
    db = sqlite_utils.Database(sqlite3_ro(path))
    cache = Cache(db, read_only=True)
    assert cache.cached("describe", 60) == {"Lead": {}}
    cache.cache("describe", None)           # would raise on a read-only connection
    assert cache.cached("describe", 60) == {"Lead": {}}
    db.conn.close()
    assert path.read_bytes() == before


def test_a_damaged_cache_entry_reads_as_missing():
    db = sqlite_utils.Database(memory=True)
    ensure_schema(db)
    db.table("meta").insert({"key": "cache:describe", "value": "not json"}, pk="key")
    assert Cache(db, read_only=False).cached("describe", 60) is None


def sqlite3_ro(path: Path):
    import sqlite3
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


# -- schema ------------------------------------------------------------------------------


def test_ensure_schema_is_idempotent_and_complete():
    db = sqlite_utils.Database(memory=True)
    ensure_schema(db)
    ensure_schema(db)
    assert {"ledger", "watermarks", "runs", "meta"} <= set(db.table_names())
    for table, columns in ADDED_COLUMNS.items():
        assert set(columns) <= set(db.table(table).columns_dict)
    assert list(db.query("SELECT value FROM meta WHERE key = 'schema_version'")) == [{"value": "1"}]
