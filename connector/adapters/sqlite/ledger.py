"""The local SQLite state: a ledger row per response, watermarks per form, a row per run.

Rules the rest of leadsync relies on:

- a response's outcome and its form's watermark move in **one transaction**, so a crash
  can never leave a watermark past a response that is not durably recorded;
- before a batch writes to Salesforce its decisions are recorded as ``pending`` (intents);
  a pending row left by a crash is not skipped by the next run, which re-resolves it
  against Salesforce before writing, so it is applied once, not lost and not doubled;
- a failed response is recorded as ``failed`` with its reason (parked): the watermark may
  pass it because ``leadsync retry`` finds it in the ledger, not in HubSpot;
- a run's pulled window waits in a ``staged`` TEMP table, read back a batch at a time
  oldest first across forms; it is never the truth (the ledger is), so a killed run's
  stage, gone with its process, costs only a second pull from the watermarks;
- one process at a time: an OS file lock beside the database (released by the kernel when
  a process dies, so a killed run's lock is free at once);
- the file is created readable by its owner only, and holds no secret;
- a file that is not a state (another file at ``[state] path``) or that a newer leadsync
  wrote is refused untouched; an older one is upgraded in one transaction (``schema.py``);
- a failure of the disk under it (full, read-only, gone) reaches the caller as a
  :class:`StateError` naming the file and the remedy, from whichever call met it
  (``failures.py``), never as a bare ``sqlite3`` error.

:class:`State` is the one object the rest of leadsync opens and calls. It keeps the
ledger, runs, watermarks and history itself and hands the other jobs to the parts beside
this module, each on the same connection: the run lock (``lock.py``), the stage
(``staging.py``), the describe cache (``cache.py``) and the tables (``schema.py``).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime
import os
import sqlite3
from pathlib import Path
from urllib.parse import quote
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import sqlite_utils

from connector.adapters.sqlite.scoring import LEDGER_INPUTS, ensure_scoring_schema, score_columns
from connector.adapters.sqlite.cache import Cache
from connector.adapters.sqlite.failures import guarded, translated
from connector.adapters.sqlite import parked
from connector.adapters.sqlite.lifecycle import ensure_lifecycle
from connector.adapters.sqlite.lock import DaemonLock, RunLock, lock_holder
from connector.adapters.sqlite.schema import HISTORY_INDEX, check_version, ensure_schema, now_iso, upgrade
from connector.adapters.sqlite.staging import Stage
from connector.adapters.sqlite.writeback import ensure_writeback_schema
from connector.core.model import Outcome, Status, Submission


_LEDGER_SHAPING = ("owner_id", "account_id", "account_match", "task_id", "changed_fields")
_LEDGER_COLUMNS = ("conversion_id", "form_id", "submitted_at", "email", "campaign_id", "action",
                   "status", "lead_id", "contact_id", "member_id", "member_existed",
                   "member_moved", "reason", "error_code", "error", "attempts", "run_id",
                   "first_seen_at", "updated_at",
                   *_LEDGER_SHAPING)   # merged_from is relink's alone: an upsert leaves it be
_LEDGER_KEPT = {"conversion_id", "attempts", "first_seen_at"}
_LEDGER_UPSERT = (
    f"INSERT INTO ledger ({', '.join(_LEDGER_COLUMNS)}) VALUES ({', '.join('?' * len(_LEDGER_COLUMNS))}) "
    "ON CONFLICT (conversion_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _LEDGER_COLUMNS if c not in _LEDGER_KEPT)
    + ", attempts = COALESCE(ledger.attempts, 0) + {attempt}"
    ", first_seen_at = COALESCE(ledger.first_seen_at, excluded.first_seen_at)"
    # a response recorded again (a retry, a replay) says afresh what was left out of it
    ", left_out_fields = NULL")
# The fields the mapping left out (names only), set apart, for the few rows that have any: a
# column on every row's statements cost every sync 3.3k instructions a response.
_LEDGER_LEFT_OUT = "UPDATE ledger SET left_out_fields = ? WHERE conversion_id = ?"
# An outcome whose intent row this connection just wrote changes only what the writes
# decided: a plain UPDATE, which leaves the identity columns and their indexes alone (a third
# of the cost of the upsert, which rewrites every column).
_LEDGER_DECIDED = ("action", "status", "lead_id", "contact_id", "member_id", "member_existed",
                   "member_moved", "reason", "error_code", "error", "run_id", "updated_at",
                   *_LEDGER_SHAPING)
_LEDGER_SETTLE = (f"UPDATE ledger SET {', '.join(f'{c} = ?' for c in _LEDGER_DECIDED)} "
                  "WHERE conversion_id = ?")
# ... and with [scoring], the score each applied response made and its inputs, in the same
# statement (adapters/sqlite/scoring.py: the ledger is scoring's history)
_LEDGER_SETTLE_SCORED = (
    f"UPDATE ledger SET {', '.join(f'{c} = ?' for c in (*_LEDGER_DECIDED, *LEDGER_INPUTS))} "
    "WHERE conversion_id = ?")


def _by_key(outcome: Outcome) -> str:
    """A batch's rows in key order: conversion ids are random, so in arrival order each row
    lands on a different page of the key's index; sorted, neighbours share the pages."""
    return outcome.conversion_id


def ensure_parts(db: sqlite_utils.Database) -> None:
    """The tables of the state's other parts, each made by its own module (idempotent): one
    line a part. Called on every open for writing (inside the upgrade's transaction) and for
    an in-memory or uninitialised read-only state."""
    ensure_writeback_schema(db)   # [writeback]'s table (adapters/sqlite/writeback.py)
    parked.ensure(db)             # dismissals, automatic retries, run warnings (parked.py)
    ensure_lifecycle(db)          # [lifecycle]'s tables (adapters/sqlite/lifecycle.py)
    ensure_scoring_schema(db)     # [scoring]'s scores and rescore marks (scoring.py)


@guarded
class State:
    """The state of one file (or of memory): what every command opens, locks and records to.

    A facade: the ledger, runs, watermarks and history are its own; the lock, the stage and
    the cache are parts on the same connection, so one transaction can span them all.
    """

    def __init__(self, db: sqlite_utils.Database, path: Path | None, *, read_only: bool = False) -> None:
        self.db = db
        self.path = path
        self.read_only = read_only
        self._lock = RunLock(path)
        self._daemon_lock = DaemonLock(path)
        self._stage = Stage(db)
        self._cache = Cache(db, read_only=read_only)
        self._intended: set[str] = set()   # ids whose intent row this connection wrote
        self._history_indexed = False

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> "State":
        """The state at ``path`` for a run that writes: created (owner-only) if missing,
        upgraded if older, refused untouched if it is not a state or is from a newer leadsync.

        The file is read before anything is written to it: the version check and the upgrade
        are one transaction, and WAL mode (a change to the file's header) is set only after.
        """
        path = Path(path)
        with translated(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)  # owner-only from the first byte
                os.close(fd)
            conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
            try:
                db = sqlite_utils.Database(conn)
                upgrade(db, path, parts=ensure_parts)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
            except BaseException:
                conn.close()
                raise
        return cls(db, path)

    @classmethod
    def open_read_only(cls, path: str | Path) -> "State":
        """For --dry-run and status: never creates or changes the file (an older one is read
        as it is; a newer one, or one that is not a state, is refused)."""
        path = Path(path)
        if path.exists():
            with translated(path):
                # A URI, so the path is quoted: a '?' or '#' in a folder name is not a parameter.
                conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
                try:
                    db = sqlite_utils.Database(conn)
                    check_version(db, path)
                    initialised = "ledger" in db.table_names()
                except BaseException:
                    conn.close()
                    raise
            if initialised:
                return cls(db, path, read_only=True)
            # Created but never initialised (the first run died before its schema, say on a
            # full disk): read as the empty state it is, and leave the file alone.
            conn.close()
            state = cls(sqlite_utils.Database(memory=True), path, read_only=True)
            state._ensure_schema()
            return state
        state = cls(sqlite_utils.Database(memory=True), None, read_only=True)
        state._ensure_schema()
        return state

    @classmethod
    def in_memory(cls) -> "State":
        state = cls(sqlite_utils.Database(memory=True), None)
        state._ensure_schema()
        return state

    def close(self) -> None:
        # The connection first: closing the lock's descriptor would drop SQLite's own
        # POSIX locks on the file (lock.py), so it goes last.
        try:
            self.db.conn.close()
        finally:
            self.unlock()

    def _ensure_schema(self) -> None:
        ensure_schema(self.db)
        ensure_parts(self.db)

    # -- locking (lock.py) ----------------------------------------------------------------
    def lock(self, *, wait: float = 0.0, should_stop: Callable[[], bool] | None = None,
             waiting: Callable[[str], None] | None = None) -> bool:
        """Take the state's lock or raise :class:`StateLocked` naming the holder; with
        ``wait``, try that many seconds first (False: ``should_stop`` gave up waiting)."""
        return self._lock.acquire(wait=wait, should_stop=should_stop, waiting=waiting)

    def suspend_lock(self) -> None:
        """Let the writer lock go between a daemon's runs (lock.py); ``lock`` retakes it."""
        self._lock.suspend()

    def lock_daemon(self) -> None:
        """One daemon per state file, for its whole life (lock.py's DaemonLock)."""
        self._daemon_lock.acquire()

    def unlock(self) -> None:
        self._lock.release()
        self._daemon_lock.release()

    def record_warnings(self, run_id: str, warnings: Sequence[tuple[str, str, str]]) -> None:
        """What a run went on without, (kind, subject, message) each (parked.py)."""
        if not self.read_only:
            parked.record_warnings(self.db, run_id, warnings)

    def lock_holder(self) -> str | None:
        """Who holds the lock now (for ``status``), or None when it is free."""
        return self._lock.holder()

    @staticmethod
    def lock_holder_at(path: str | Path) -> str | None:
        """Who holds the lock of the state file at ``path``, whether or not that file exists
        yet: ``status`` asks while it reads a read-only state, which stands in memory (and
        knows no path) when there is no file."""
        with translated(path):
            return lock_holder(Path(path))

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """sqlite-utils' atomic block: its own writes nest inside as savepoints. A failed
        COMMIT (a full disk) is rolled back by it and reaches the caller as a StateError."""
        with translated(self.path), self.db.atomic() as db:
            yield db

    # -- reads ---------------------------------------------------------------------------
    def _where_in(self, select: str, column: str, values: Iterable[str]) -> Iterator[dict[str, Any]]:
        """``select ... WHERE column IN (values)``, 500 at a time (SQLite's variable limit)."""
        ids = list(values)
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            yield from self.db.query(f"{select} {column} IN ({','.join('?' * len(part))})", part)

    def watermark(self, form_id: str) -> int | None:
        row = next(self.db.query("SELECT submitted_at FROM watermarks WHERE form_id = ?", [form_id]), None)
        return None if row is None else row["submitted_at"]

    def watermarks(self) -> dict[str, int]:
        return {r["form_id"]: r["submitted_at"] for r in self.db.query("SELECT * FROM watermarks")}

    def statuses(self, conversion_ids: Iterable[str]) -> dict[str, str]:
        return {row["conversion_id"]: row["status"] for row in self._where_in(
            "SELECT conversion_id, status FROM ledger WHERE", "conversion_id", conversion_ids)}

    def owner_forms(self, conversion_ids: Iterable[str]) -> dict[str, str]:
        """Conversion id -> the form whose ledger row holds it under that bare id: the form
        that owns the id when it is seen on another form too (``connector.core.keys``)."""
        return {row["conversion_id"]: row["form_id"] for row in self._where_in(
            "SELECT conversion_id, form_id FROM ledger WHERE", "conversion_id",
            sorted(set(conversion_ids)))}

    def ledger(self, conversion_id: str) -> dict[str, Any] | None:
        return next(self.db.query("SELECT * FROM ledger WHERE conversion_id = ?", [conversion_id]), None)

    def rows(self, status: str | None = None) -> list[dict[str, Any]]:
        if status:
            return list(self.db.query("SELECT * FROM ledger WHERE status = ? ORDER BY submitted_at",
                                      [status]))
        return list(self.db.query("SELECT * FROM ledger ORDER BY submitted_at"))

    def oldest_pending(self) -> dict[str, int]:
        """Form id -> the oldest submission the ledger holds as ``pending`` (an intent whose
        outcome was never recorded: a kill, a lost reply), whatever its age."""
        return {row["form_id"]: int(row["at"]) for row in self.db.query(
            "SELECT form_id, MIN(submitted_at) AS at FROM ledger WHERE status = ? GROUP BY form_id",
            [Status.PENDING.value])}

    def runs(self, limit: int = 10) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM runs ORDER BY started_at DESC LIMIT ?", [limit]))

    # -- writes --------------------------------------------------------------------------
    def start_run(self, run_id: str, method: str, dry_run: bool) -> None:
        if self.read_only:
            return
        self.db.table("runs").insert({"id": run_id, "started_at": now_iso(), "method": method,
                                      "dry_run": int(dry_run), "status": "running"})

    def finish_run(self, run_id: str, status: str, counts: Mapping[str, Any], error: str | None = None) -> None:
        if self.read_only:
            return
        runs = self.db.table("runs")
        runs.update(run_id, {"finished_at": now_iso(), "status": status, "error": error,
                             **{k: v for k, v in counts.items() if k in runs.columns_dict}})

    def record_intents(self, outcomes: Iterable[Outcome], run_id: str) -> None:
        """Pending rows before the writes: what the run is about to do, durably."""
        outcomes = list(outcomes)
        with self.transaction():
            self._upsert(outcomes, run_id, count_attempt=True)
        self._intended.update(o.conversion_id for o in outcomes)

    def record_outcomes(self, outcomes: Iterable[Outcome], run_id: str,
                        watermarks: Mapping[str, int] | None = None) -> None:
        """Final outcomes and the watermarks they allow, in one transaction."""
        stamp = now_iso()
        outcomes = list(outcomes)
        settled = [o for o in outcomes if o.conversion_id in self._intended]
        with self.transaction():
            self._upsert([o for o in outcomes if o.conversion_id not in self._intended], run_id,
                         count_attempt=False)
            self._settle(settled, run_id, stamp)
            left_out = [(",".join(o.left_out), o.conversion_id) for o in outcomes if o.left_out]
            if left_out:
                self.db.conn.executemany(_LEDGER_LEFT_OUT, left_out)
            for form_id, submitted_at in (watermarks or {}).items():
                self.db.table("watermarks").upsert({"form_id": form_id, "submitted_at": submitted_at,
                                                    "updated_at": stamp, "run_id": run_id}, pk="form_id")

    def _settle(self, outcomes: list[Outcome], run_id: str, stamp: str) -> None:
        """The outcomes of rows whose intents this connection recorded (see _LEDGER_SETTLE)."""
        scored = any(o.score is not None for o in outcomes)
        rows = [(o.action.value, o.status.value, o.lead_id, o.contact_id, o.member_id,
                 int(o.member_existed), int(o.member_moved), o.reason, o.error_code, o.error,
                 run_id, stamp, *_extra_columns(o), *(score_columns(o.score) if scored else ()),
                 o.conversion_id)
                for o in sorted(outcomes, key=_by_key)]
        self.db.conn.executemany(_LEDGER_SETTLE_SCORED if scored else _LEDGER_SETTLE, rows)
        self._intended.difference_update(o.conversion_id for o in outcomes)

    def _upsert(self, outcomes: list[Outcome], run_id: str, *, count_attempt: bool) -> None:
        """One statement for a whole batch (a row at a time, or sqlite-utils' generic upsert,
        costs more of the run's CPU than the rest of the batch). A new row has one attempt;
        a known one keeps its first sighting and counts an attempt only for an intent."""
        if not outcomes:
            return
        stamp = now_iso()
        rows = [(o.conversion_id, o.form_id, o.submitted_at, o.email, o.campaign_id,
                 o.action.value, o.status.value, o.lead_id, o.contact_id, o.member_id,
                 int(o.member_existed), int(o.member_moved), o.reason, o.error_code, o.error, 1,
                 run_id, stamp,
                 stamp, *_extra_columns(o))
                for o in sorted(outcomes, key=_by_key)]
        self.db.conn.executemany(_LEDGER_UPSERT.format(attempt=int(count_attempt)), rows)

    # -- staging (staging.py): one run's pulled window, handed out oldest first ----------------
    def stage(self, submissions: Iterable[Submission]) -> int:
        """Stage pulled submissions; returns how many were new (a repeated submission is kept
        once, as the first page that had it; one id on two forms is two, see staging.py)."""
        return self._stage.stage(submissions)

    def unstage_recorded(self) -> int:
        """Key the staged responses (``connector.core.keys``), then drop those the ledger
        holds as applied or parked; returns how many were dropped."""
        return self._stage.unstage_recorded()

    def staged_count(self) -> int:
        return self._stage.count()

    def staged_batches(self, size: int) -> Iterator[list[Submission]]:
        """The staged submissions in batches of ``size``, oldest first across forms."""
        return self._stage.batches(size)

    def unstage_all(self) -> None:
        """Empty the stage (a run's start and end; a daemon keeps its connection open)."""
        self._stage.clear()

    def park_summary(self) -> list[dict[str, Any]]:
        return list(self.db.query(
            "SELECT error_code, COUNT(*) AS n, MIN(error) AS example FROM ledger "
            "WHERE status = ? GROUP BY error_code ORDER BY n DESC", [Status.FAILED.value]))

    def parked_codes_by_run(self) -> list[tuple[str, str]]:
        """(run id, error code) of every parked row, distinct: which run parked which kind
        (``status --check`` and the alerts tell a new kind of failure from a known one)."""
        return [(r["run_id"] or "", r["error_code"] or "UNKNOWN") for r in self.db.query(
            "SELECT DISTINCT run_id, error_code FROM ledger WHERE status = ?", [Status.FAILED.value])]

    def runs_by_status(self) -> dict[str, int]:
        """Run status -> how many runs ended so (the ``/metrics`` runs counter)."""
        return {r["status"] or "unknown": int(r["n"]) for r in self.db.query(
            "SELECT status, COUNT(*) AS n FROM runs GROUP BY status")}

    def export(self) -> str:
        """The ledger as JSON lines, for support and reconciliation: decisions, not people's
        answers ([scoring]'s inputs are left out; the score itself stays)."""
        return "\n".join(json.dumps({k: v for k, v in r.items() if k not in _NOT_EXPORTED},
                                    sort_keys=True) for r in self.rows())

    def history(self, emails: Iterable[str]) -> dict[str, list[tuple[int, str]]]:
        """Each person's earlier applied responses as (submitted_at, form id), oldest first:
        the moments a follow-up Task tells the rep about.

        The email index this needs is built on the first call, so only a config with Tasks
        pays for it: on a fresh 100,000-response ledger it made each intent write about a
        third dearer. A read-only state (a dry run) cannot build it and scans instead.
        State files from earlier versions have it already and keep it.
        """
        if not self._history_indexed and not self.read_only:
            self.db.execute(f"CREATE INDEX IF NOT EXISTS {HISTORY_INDEX} ON ledger (email)")
            self._history_indexed = True
        out: dict[str, list[tuple[int, str]]] = {}
        # "+status": by the email index, not the status index SQLite prefers without
        # statistics (which read every applied row of the ledger for each batch)
        for row in self._where_in("SELECT email, submitted_at, form_id FROM ledger "
                                  "WHERE +status = 'applied' AND", "email", sorted(set(emails))):
            out.setdefault(row["email"], []).append((row["submitted_at"], row["form_id"]))
        for moments in out.values():
            moments.sort()
        return out

    # -- cache (cache.py) -------------------------------------------------------------------
    def cached(self, key: str, max_age_seconds: float) -> Any:
        """A value stored by :meth:`cache` no older than ``max_age_seconds``, else None."""
        return self._cache.cached(key, max_age_seconds)

    def cached_entry(self, key: str) -> tuple[Any, datetime] | None:
        """A cached value and when it was stored, whatever its age (None when absent)."""
        return self._cache.entry(key)

    def cache(self, key: str, value: Any) -> None:
        """Keep a slow-changing vendor answer (the org's describe) between runs."""
        self._cache.cache(key, value)

    # -- operations (daemon, reconcile, status) ---------------------------------------------
    def rows_since(self, since_ms: int) -> list[dict[str, Any]]:
        """Ledger rows whose submission is at or after ``since_ms`` (reconcile's window)."""
        return list(self.db.query("SELECT * FROM ledger WHERE submitted_at >= ? ORDER BY submitted_at",
                                  [since_ms]))

    def created_lead_ids(self, lead_ids: Iterable[str]) -> set[str]:
        """Which of these Leads leadsync itself created (any time, not only in a window).

        A row re-pointed at a merge survivor still counts for the Lead leadsync created
        (``merged_from``), not for the survivor, which may be someone else's.
        """
        column = "COALESCE(merged_from, lead_id)" if self._has_column("merged_from") else "lead_id"
        return {row["created"] for row in self._where_in(
            f"SELECT DISTINCT {column} AS created FROM ledger WHERE action = 'create_lead' AND",
            column, sorted(set(lead_ids)))}

    def parked_leads(self, conversion_ids: Iterable[str]) -> dict[str, str]:
        """The Leads parked responses created before something later failed them (their
        membership refused): conversion id -> Lead Id. A retry attaches to that Lead rather
        than creating a second one (under poi without an external id nothing else finds it)."""
        return {row["conversion_id"]: row["lead_id"] for row in self._where_in(
            "SELECT conversion_id, lead_id FROM ledger WHERE status = 'failed' AND "
            "action = 'create_lead' AND lead_id IS NOT NULL AND", "conversion_id",
            conversion_ids)}

    def _has_column(self, name: str) -> bool:
        """A read-only state written by an older leadsync may lack a later column."""
        return name in self.db.table("ledger").columns_dict

    def set_member_id(self, conversion_id: str, member_id: str) -> None:
        """Point an applied row at its (re-created) CampaignMember, after a reconcile fix."""
        with self.transaction():
            self.db.table("ledger").update(conversion_id, {"member_id": member_id, "updated_at": now_iso()})

    def relink(self, conversion_id: str, sobject: str, survivor_id: str, member_id: str) -> None:
        """Point an applied row at the record its own was merged into, and at the membership
        there; ``merged_from`` keeps the record the row first named (merged twice: the first)."""
        column = "lead_id" if sobject == "Lead" else "contact_id"
        with self.transaction():
            self.db.execute(
                f"UPDATE ledger SET merged_from = COALESCE(merged_from, {column}), {column} = ?, "
                "member_id = ?, updated_at = ? WHERE conversion_id = ?",
                [survivor_id, member_id, now_iso(), conversion_id])

    def daily_outcomes(self, since_ms: int = 0) -> list[dict[str, Any]]:
        """Responses per submission day (UTC) and outcome, for the status chart."""
        return list(self.db.query(
            "SELECT date(submitted_at / 1000, 'unixepoch') AS day, "
            "CASE WHEN status != 'applied' THEN status "
            "     WHEN member_existed = 1 THEN 'already_member' "
            "     WHEN member_moved = 1 THEN 'status_moved' "
            "     WHEN action = 'create_lead' THEN 'created_lead' ELSE 'attached' END AS outcome, "
            "COUNT(*) AS n FROM ledger WHERE submitted_at >= ? AND status != 'dismissed' "
            "GROUP BY day, outcome ORDER BY day",
            [since_ms]))


_NO_SHAPING = (None,) * len(_LEDGER_SHAPING)
_NOT_EXPORTED = frozenset({"score_fit", "score_event"})


def _extra_columns(outcome: Outcome) -> tuple[Any, ...]:
    """What shaping decided (owner, matched Account, Task, changed fields) as the ledger's
    ``_LEDGER_SHAPING`` columns, in that order.

    Only field *names* are kept: the ledger is an audit of decisions, not a copy of people's
    data."""
    e = outcome.enrichment
    if not (e or outcome.task_id):
        return _NO_SHAPING
    return (e.owner.id if e.owner else None, e.account.id if e.account else None,
            e.account.how if e.account else None, outcome.task_id,
            ",".join(e.changed_fields) or None)
