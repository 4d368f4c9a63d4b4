"""The state's rows for working parked responses: dismissals, automatic retries, run warnings.

Three tables of their own, created idempotently by :func:`ensure` (one line in
``ledger.ensure_parts``, so a new file, an older one being upgraded, and the in-memory
states all get them); a read-only state written before them reads them as empty:

- ``parked_notes``: who dismissed a parked response, when, and why. The ledger row itself
  turns ``dismissed`` in the same transaction, so ``retry``, ``reconcile`` and the health
  rules, which read ``failed`` rows, leave it alone, while the row and its note are kept;
- ``parked_retries``: a transient parked response's automatic tries so far and the next
  one (``core.parked.RetryPlan``), kept by the daemon's step across restarts;
- ``run_warnings``: what a run went on without (an owner fallen back to the default, a form
  paused), by run, for ``status`` and the run report. Never an email: each text is built
  from configuration keys, Ids and vendor codes only.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import sqlite_utils

from connector.adapters.sqlite.schema import now_iso
from connector.core.model import Status
from connector.core.parked import ParkedFilter, ParkedRow, RetryPlan, is_transient

NOTES, RETRIES, WARNINGS = "parked_notes", "parked_retries", "run_warnings"


def ensure(db: sqlite_utils.Database) -> None:
    """CREATE TABLE IF NOT EXISTS for the three tables (new files and older ones alike)."""
    db.execute(f"CREATE TABLE IF NOT EXISTS {NOTES} (conversion_id TEXT PRIMARY KEY, "
               "note TEXT NOT NULL, dismissed_by TEXT, dismissed_at TEXT, error_code TEXT)")
    db.execute(f"CREATE TABLE IF NOT EXISTS {RETRIES} (conversion_id TEXT PRIMARY KEY, "
               "tries INTEGER NOT NULL, next_try_at REAL NOT NULL, last_try_at TEXT)")
    db.execute(f"CREATE TABLE IF NOT EXISTS {WARNINGS} (run_id TEXT NOT NULL, kind TEXT NOT NULL, "
               "subject TEXT NOT NULL, message TEXT NOT NULL, at TEXT NOT NULL)")


def _has(db: sqlite_utils.Database, table: str) -> bool:
    return table in db.table_names()


def parked_rows(db: sqlite_utils.Database, selection: ParkedFilter, *,
                include_dismissed: bool = False) -> list[ParkedRow]:
    """Parked (and, when asked, dismissed) ledger rows that ``selection`` matches, oldest first."""
    statuses = [Status.FAILED.value] + ([Status.DISMISSED.value] if include_dismissed else [])
    notes = _by_id(db, NOTES) if _has(db, NOTES) else {}
    plans = _by_id(db, RETRIES) if _has(db, RETRIES) else {}
    rows = db.query(f"SELECT * FROM ledger WHERE status IN ({','.join('?' * len(statuses))}) "
                    "ORDER BY submitted_at, conversion_id", statuses)
    out = []
    for row in rows:
        if not selection.matches(row):
            continue
        note, plan = notes.get(row["conversion_id"], {}), plans.get(row["conversion_id"], {})
        out.append(ParkedRow(
            conversion_id=row["conversion_id"], form_id=row["form_id"] or "",
            submitted_at=row.get("submitted_at"), email=row.get("email") or "",
            error_code=row.get("error_code") or "UNKNOWN", error=row.get("error") or "",
            attempts=int(row.get("attempts") or 0), status=row["status"],
            transient=is_transient(row.get("error_code")), auto_tries=int(plan.get("tries") or 0),
            next_try_at=plan.get("next_try_at"), note=note.get("note"),
            dismissed_by=note.get("dismissed_by"), dismissed_at=note.get("dismissed_at")))
    return out


def _by_id(db: sqlite_utils.Database, table: str) -> dict[str, dict[str, Any]]:
    return {r["conversion_id"]: r for r in db.query(f"SELECT * FROM {table}")}


def dismiss(db: sqlite_utils.Database, conversion_id: str, *, note: str, by: str) -> str | None:
    """Dismiss one parked row with its note, in one transaction; returns its error code, or
    None when no parked row has that id (nothing changed)."""
    with db.atomic():
        row = next(db.query("SELECT error_code FROM ledger WHERE conversion_id = ? AND status = ?",
                            [conversion_id, Status.FAILED.value]), None)
        if row is None:
            return None
        stamp = now_iso()
        db.execute("UPDATE ledger SET status = ?, updated_at = ? WHERE conversion_id = ?",
                   [Status.DISMISSED.value, stamp, conversion_id])
        db.execute(f"INSERT OR REPLACE INTO {NOTES} (conversion_id, note, dismissed_by, "
                   "dismissed_at, error_code) VALUES (?, ?, ?, ?, ?)",
                   [conversion_id, note, by, stamp, row["error_code"]])
        db.execute(f"DELETE FROM {RETRIES} WHERE conversion_id = ?", [conversion_id])
    return str(row["error_code"] or "UNKNOWN")


def retry_plans(db: sqlite_utils.Database) -> dict[str, RetryPlan]:
    if not _has(db, RETRIES):
        return {}
    return {r["conversion_id"]: RetryPlan(r["conversion_id"], int(r["tries"]), float(r["next_try_at"]))
            for r in db.query(f"SELECT * FROM {RETRIES}")}


def save_plans(db: sqlite_utils.Database, plans: Iterable[RetryPlan], *, settled: Iterable[str] = ()) -> None:
    """Store the plans (one transaction) and forget those of rows no longer parked."""
    stamp = now_iso()
    with db.atomic():
        db.conn.executemany(f"INSERT OR REPLACE INTO {RETRIES} (conversion_id, tries, next_try_at, "
                            "last_try_at) VALUES (?, ?, ?, ?)",
                            [(p.conversion_id, p.tries, p.next_try_at, stamp) for p in plans])
        db.conn.executemany(f"DELETE FROM {RETRIES} WHERE conversion_id = ?",
                            [(cid,) for cid in settled])


def record_warnings(db: sqlite_utils.Database, run_id: str,
                    warnings: Sequence[tuple[str, str, str]]) -> None:
    """A run's (kind, subject, message) warnings."""
    if not warnings:
        return
    stamp = now_iso()
    with db.atomic():
        db.conn.executemany(f"INSERT INTO {WARNINGS} (run_id, kind, subject, message, at) "
                            "VALUES (?, ?, ?, ?, ?)",
                            [(run_id, kind, subject, message, stamp)
                             for kind, subject, message in warnings])


def last_run_warnings(db: sqlite_utils.Database) -> list[dict[str, str]]:
    """The warnings of the newest finished run (none when it had none, or no table yet)."""
    if not _has(db, WARNINGS):
        return []
    run = next(db.query("SELECT id FROM runs WHERE finished_at IS NOT NULL AND dry_run = 0 "
                        "ORDER BY started_at DESC LIMIT 1"), None)
    if run is None:
        return []
    return [{"kind": r["kind"], "subject": r["subject"], "message": r["message"], "run_id": r["run_id"]}
            for r in db.query(f"SELECT * FROM {WARNINGS} WHERE run_id = ? ORDER BY rowid", [run["id"]])]
