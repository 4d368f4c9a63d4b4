"""What ``[scoring]`` keeps in the state: the parts of a response its rules read that the ledger
does not hold, each person's last written score, the hand-offs a rescore made, and when the
last rescore ran.

- ``score_events``: per applied response, the page and only the answers behaviour rules name
  (never the whole form: the state holds no more of a person than scoring needs). The
  moment, form and campaign come from the ledger itself, so a person synced before
  ``[scoring]`` was configured is still scored from their history.
- ``score_people``: per email, the score last written to the record (so a rescore writes
  only what changed without reading 100,000 records back) and the fit values last seen.
- ``score_handoffs``: a rescore's promotion of a person, recorded *before* its writes as
  ``pending`` and settled ``done`` after, keyed by the person and the score it replaced: a
  rerun after a kill or a lost reply finds the same key and never hands off twice.
- ``score_meta``: the time of the last rescore (the daemon's daily step).

A read-only state (a dry run) may lack these tables: they read as empty.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

import sqlite_utils

from connector.core.enrich.scoring import Event, Score

HISTORY_INDEX = "idx_ledger_email"   # the ledger's email index (State.history makes the same)


def ensure_scoring_schema(db: sqlite_utils.Database) -> None:
    """Create the scoring tables when missing (idempotent; called on every open)."""
    db.execute("CREATE TABLE IF NOT EXISTS score_events (conversion_id TEXT PRIMARY KEY, "
               "page TEXT, answers TEXT)")
    db.execute("CREATE TABLE IF NOT EXISTS score_people (email TEXT PRIMARY KEY, sobject TEXT, "
               "record_id TEXT, score INTEGER, behaviour REAL, fit REAL, as_of INTEGER, "
               "reasons TEXT, fit_values TEXT, ready INTEGER, updated_at TEXT)")
    db.execute("CREATE TABLE IF NOT EXISTS score_handoffs (key TEXT PRIMARY KEY, email TEXT, "
               "record_id TEXT, status TEXT, task_id TEXT, fields TEXT, updated_at TEXT)")
    db.execute("CREATE TABLE IF NOT EXISTS score_meta (key TEXT PRIMARY KEY, value TEXT)")


@dataclass(frozen=True)
class StoredScore:
    """A person's row of ``score_people``: the score last written and where."""

    email: str
    sobject: str | None
    record_id: str | None
    score: int | None
    as_of: int
    fit_values: Mapping[str, str]
    ready: bool | None = None


@dataclass(frozen=True)
class Handoff:
    key: str
    email: str
    record_id: str
    status: str
    task_id: str | None


class ScoreStore:
    """The scoring tables on a state's connection."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.db: sqlite_utils.Database = state.db
        self.read_only: bool = bool(getattr(state, "read_only", False))
        if not self.read_only:
            # State.open upgrades the file through schema.upgrade, not State._ensure_schema
            # (which only in-memory and read-only states call), so the tables are made here too.
            ensure_scoring_schema(self.db)

    def _has(self, table: str) -> bool:
        return table in self.db.table_names()

    # -- reads -------------------------------------------------------------------------------
    def events(self, emails: Iterable[str]) -> dict[str, list[Event]]:
        """Each person's applied responses as scoring events (ledger moment + stored extras)."""
        wanted = sorted(set(emails))
        if not wanted:
            return {}
        if not self.read_only:
            self.db.execute(f"CREATE INDEX IF NOT EXISTS {HISTORY_INDEX} ON ledger (email)")
        return _group(self._where_in(self._events_sql() + " AND l.email", wanted))

    def all_events(self) -> dict[str, list[Event]]:
        """Everyone's events, for a rescore (one scan of the ledger)."""
        return _group(self.db.query(self._events_sql()))

    def _events_sql(self) -> str:
        if self._has("score_events"):
            return ("SELECT l.email, l.conversion_id, l.submitted_at, l.form_id, l.campaign_id, "
                    "e.page, e.answers FROM ledger l LEFT JOIN score_events e "
                    "ON e.conversion_id = l.conversion_id WHERE l.status = 'applied'")
        return ("SELECT email, conversion_id, submitted_at, form_id, campaign_id, NULL AS page, "
                "NULL AS answers FROM ledger l WHERE l.status = 'applied'")

    def _where_in(self, select: str, values: Sequence[str]) -> Iterator[dict[str, Any]]:
        for start in range(0, len(values), 500):
            part = values[start:start + 500]
            yield from self.db.query(f"{select} IN ({','.join('?' * len(part))})", part)

    def people(self, emails: Iterable[str] | None = None) -> dict[str, StoredScore]:
        """Stored scores, of ``emails`` or of everyone."""
        if not self._has("score_people"):
            return {}
        select = "SELECT * FROM score_people WHERE email"
        rows = (self._where_in(select, sorted(set(emails))) if emails is not None
                else self.db.query("SELECT * FROM score_people"))
        return {row["email"]: _stored(row) for row in rows}

    def records(self) -> dict[str, tuple[str, str]]:
        """Email -> (sObject, record id) of each person's latest applied response in the ledger."""
        out: dict[str, tuple[str, str]] = {}
        for row in self.db.query("SELECT email, lead_id, contact_id FROM ledger WHERE status = "
                                 "'applied' ORDER BY submitted_at"):
            if row["contact_id"]:
                out[row["email"]] = ("Contact", row["contact_id"])
            elif row["lead_id"]:
                out[row["email"]] = ("Lead", row["lead_id"])
        return out

    def handoffs(self, keys: Iterable[str]) -> dict[str, Handoff]:
        if not self._has("score_handoffs"):
            return {}
        return {row["key"]: Handoff(row["key"], row["email"], row["record_id"], row["status"],
                                    row["task_id"])
                for row in self._where_in("SELECT * FROM score_handoffs WHERE key",
                                          sorted(set(keys)))}

    def handoff_count(self) -> int:
        if not self._has("score_handoffs"):
            return 0
        return int(next(self.db.query("SELECT COUNT(*) AS n FROM score_handoffs"))["n"])

    def last_rescore(self) -> int | None:
        if not self._has("score_meta"):
            return None
        row = next(self.db.query("SELECT value FROM score_meta WHERE key = 'last_rescore'"), None)
        return int(row["value"]) if row else None

    # -- writes ------------------------------------------------------------------------------
    def record_sync(self, rows: Sequence["SyncedScore"], stamp: str) -> None:
        """After a sync batch's outcomes: each applied response's extras, and its person's
        score when it is the latest known (a backfill of older responses never overwrites a
        newer score)."""
        if not rows:
            return
        with self.state.transaction():
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO score_events (conversion_id, page, answers) VALUES (?,?,?)",
                [(r.conversion_id, r.page, json.dumps(dict(r.answers)) if r.answers else None)
                 for r in rows])
            self.db.conn.executemany(
                "INSERT INTO score_people (email, sobject, record_id, score, behaviour, fit, "
                "as_of, reasons, fit_values, ready, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(email) DO UPDATE SET sobject=excluded.sobject, "
                "record_id=excluded.record_id, score=excluded.score, "
                "behaviour=excluded.behaviour, fit=excluded.fit, as_of=excluded.as_of, "
                "reasons=excluded.reasons, fit_values=excluded.fit_values, ready=excluded.ready, "
                "updated_at=excluded.updated_at WHERE excluded.as_of >= score_people.as_of",
                [(r.email, r.sobject, r.record_id, r.score.value, r.score.behaviour, r.score.fit,
                  r.score.as_of, r.score.reasons(), json.dumps(dict(r.score.fit_values)),
                  int(r.score.ready), stamp)
                 for r in rows])

    def record_scores(self, rows: Sequence[tuple[str, str, str, Score]], stamp: str) -> None:
        """A rescore's written scores: (email, sObject, record id, score)."""
        with self.state.transaction():
            self.db.conn.executemany(
                "INSERT INTO score_people (email, sobject, record_id, score, behaviour, fit, "
                "as_of, reasons, fit_values, ready, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(email) DO UPDATE SET sobject=excluded.sobject, "
                "record_id=excluded.record_id, score=excluded.score, "
                "behaviour=excluded.behaviour, fit=excluded.fit, as_of=excluded.as_of, "
                "reasons=excluded.reasons, ready=excluded.ready, updated_at=excluded.updated_at",
                [(email, sobject, record_id, s.value, s.behaviour, s.fit, s.as_of, s.reasons(),
                  json.dumps(dict(s.fit_values)), int(s.ready), stamp)
                 for email, sobject, record_id, s in rows])

    def begin_handoffs(self, rows: Sequence[tuple[str, str, str, Mapping[str, Any]]],
                       stamp: str) -> None:
        """Intents before the writes: (key, email, record id, fields). A key already recorded
        keeps its row (a rerun resumes it, it does not start a second hand-off)."""
        with self.state.transaction():
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO score_handoffs (key, email, record_id, status, fields, "
                "updated_at) VALUES (?,?,?,'pending',?,?)",
                [(k, e, rid, json.dumps(dict(f), default=str), stamp) for k, e, rid, f in rows])

    def finish_handoffs(self, done: Mapping[str, str | None], stamp: str) -> None:
        """key -> Task Id (None: no Task) for the hand-offs whose writes all succeeded."""
        with self.state.transaction():
            self.db.conn.executemany(
                "UPDATE score_handoffs SET status = 'done', task_id = COALESCE(?, task_id), "
                "updated_at = ? WHERE key = ?", [(t, stamp, k) for k, t in done.items()])

    def set_last_rescore(self, at_ms: int) -> None:
        with self.state.transaction():
            self.db.execute("INSERT OR REPLACE INTO score_meta (key, value) VALUES "
                            "('last_rescore', ?)", [str(at_ms)])


@dataclass(frozen=True)
class SyncedScore:
    """One applied response's score as the sync wrote it."""

    conversion_id: str
    email: str
    sobject: str
    record_id: str
    page: str | None
    answers: Mapping[str, str]
    score: Score


def _group(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = {}
    for row in rows:
        answers = json.loads(row["answers"]) if row["answers"] else {}
        out.setdefault(row["email"], []).append(Event(
            row["conversion_id"], int(row["submitted_at"] or 0), row["form_id"] or "",
            row["campaign_id"] or "", row["page"], answers))
    return out


def _stored(row: Mapping[str, Any]) -> StoredScore:
    return StoredScore(row["email"], row["sobject"], row["record_id"], row["score"],
                       int(row["as_of"] or 0), json.loads(row["fit_values"] or "{}"),
                       None if row["ready"] is None else bool(row["ready"]))
