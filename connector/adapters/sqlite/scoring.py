"""What ``[scoring]`` keeps in the state: per person, the score last written and the history it
is computed from; the hand-offs a rescore made; when the last rescore ran.

- ``score_people``: per email, the score last written to the record (so a rescore writes
  only what changed without reading 100,000 records back), the fit values last seen, and
  the person's applied responses as scoring reads them (moment, form, campaign, page and
  only the answers behaviour rules name: never the whole form). Kept here, by email as the
  primary key, so neither the sync nor the rescore needs an index on the ledger's email
  (an index on a random key makes every intent write dearer). A state from before
  ``[scoring]`` is filled once from the ledger (:meth:`ScoreStore.backfill`).
- ``score_handoffs``: a rescore's promotion of a person, recorded *before* its writes as
  ``pending`` and settled ``done`` after, keyed by the person and the score it replaced: a
  rerun after a kill or a lost reply finds the same key and never hands off twice.
- ``score_meta``: the time of the last rescore (the daemon's daily step), and whether the
  ledger's history was copied in.

A read-only state (a dry run) may lack these tables: they read as empty.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, NamedTuple, Sequence

import sqlite_utils

from connector.core.enrich.scoring import Event, Score

# (A state made before these were the columns also holds behaviour, fit, reasons and
# updated_at, which nothing reads any more: left in place, never written.)
_PEOPLE_COLUMNS = "email, sobject, record_id, score, as_of, fit_values, ready, events"


def ensure_scoring_schema(db: sqlite_utils.Database) -> None:
    """Create the scoring tables when missing (idempotent; called on every open)."""
    db.execute("CREATE TABLE IF NOT EXISTS score_people (email TEXT PRIMARY KEY, sobject TEXT, "
               "record_id TEXT, score INTEGER, as_of INTEGER, fit_values TEXT, ready INTEGER, "
               "events TEXT)")
    db.execute("CREATE TABLE IF NOT EXISTS score_handoffs (key TEXT PRIMARY KEY, email TEXT, "
               "record_id TEXT, status TEXT, task_id TEXT, fields TEXT, updated_at TEXT)")
    db.execute("CREATE TABLE IF NOT EXISTS score_meta (key TEXT PRIMARY KEY, value TEXT)")


class StoredScore(NamedTuple):
    """A person's row of ``score_people``. (A named tuple: a rescore reads one per person.)"""

    email: str
    sobject: str | None
    record_id: str | None
    score: int | None                   # None: never scored (copied from the ledger)
    as_of: int
    fit_values: Mapping[str, str]
    ready: bool | None = None
    events: tuple[Event, ...] = ()


@dataclass(frozen=True)
class Handoff:
    key: str
    email: str
    record_id: str
    status: str
    task_id: str | None


class SyncedScore(NamedTuple):
    """One applied response's row as the sync keeps it: its person's score as written and
    the event it adds to their history, already in :data:`_SYNC_UPSERT`'s parameter order
    (so a batch's rows go to SQLite as they are). Made by :func:`synced`."""

    email: str
    sobject: str
    record_id: str
    score: int
    as_of: int
    fit_values: str
    ready: int
    event: str
    key: str                  # the event's conversion id between delimiters (kept once)


def synced(email: str, sobject: str, record_id: str, event: Event, score: Score) -> SyncedScore:
    """The row an applied response leaves (one per response of a sync: kept to one tuple)."""
    fit_values = score.fit_values
    return SyncedScore(email, sobject, record_id, score.value, score.as_of,
                       _dump_map(fit_values) if fit_values else "", int(score.ready),
                       _dump_event(event), f"{_EVENT}{event.conversion_id}{_FIELD}")


class ScoreStore:
    """The scoring tables on a state's connection."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.db: sqlite_utils.Database = state.db
        self.read_only: bool = bool(getattr(state, "read_only", False))
        # What this connection already knows (a sync makes a store per batch): remembered on
        # the state object, so a batch spends no statement on schema checks.
        self._known: dict[str, Any] = state.__dict__.setdefault("_scoring_known", {})
        if not self.read_only:
            self._known["tables"] = True   # made by the State's ensure_parts on every open for writing

    def _has(self, table: str) -> bool:
        if self._known.get("tables"):
            return True
        return table in self.db.table_names()

    def _tuples_in(self, select: str, values: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        """As :meth:`_where_in`, rows as plain tuples (no dict made per row)."""
        for start in range(0, len(values), 500):
            part = values[start:start + 500]
            yield from self.db.conn.execute(f"{select} IN ({','.join('?' * len(part))})", part)

    def _where_in(self, select: str, values: Sequence[str]) -> Iterator[dict[str, Any]]:
        for start in range(0, len(values), 500):
            part = values[start:start + 500]
            yield from self.db.query(f"{select} IN ({','.join('?' * len(part))})", part)

    # -- the ledger's history, once ---------------------------------------------------------
    def backfill(self) -> int:
        """Copy the ledger's applied responses into ``score_people`` once (the first run with
        ``[scoring]``): people synced before it was configured are scored from their history.
        One scan of the ledger; later runs read one flag. Returns the people added."""
        if self.read_only or self._known.get("backfilled"):
            return 0
        if self._meta("backfilled") is not None:
            self._known["backfilled"] = True
            return 0
        by_email: dict[str, list[dict[str, Any]]] = {}
        for row in self.db.query("SELECT conversion_id, email, submitted_at, form_id, campaign_id, "
                                 "lead_id, contact_id FROM ledger WHERE status = 'applied'"):
            by_email.setdefault(row["email"], []).append(row)
        have = {r["email"] for r in self.db.query("SELECT email FROM score_people")}
        rows = []
        for email, found in by_email.items():
            if email in have:
                continue
            found.sort(key=lambda r: r["submitted_at"] or 0)
            sobject, record_id = "", ""
            for r in found:
                if r["contact_id"]:
                    sobject, record_id = "Contact", r["contact_id"]
                elif r["lead_id"]:
                    sobject, record_id = "Lead", r["lead_id"]
            events = [Event(r["conversion_id"], int(r["submitted_at"] or 0), r["form_id"] or "",
                            r["campaign_id"] or "") for r in found]
            rows.append((email, sobject, record_id, None, 0, "", None, _dump_events(events)))
        with self.state.transaction():
            self.db.conn.executemany(f"INSERT INTO score_people ({_PEOPLE_COLUMNS}) VALUES "
                                     f"({','.join('?' * 8)})", rows)
            self._set_meta("backfilled", str(len(rows)))
        self._known["backfilled"] = True
        return len(rows)

    # -- reads -------------------------------------------------------------------------------
    def people(self, emails: Iterable[str] | None = None) -> dict[str, StoredScore]:
        """Stored people, of ``emails`` or of everyone (a read-only state not yet filled from
        the ledger reads the ledger for them)."""
        wanted = None if emails is None else sorted(set(emails))
        if not self._has("score_people"):
            return self._from_ledger(wanted) if wanted else {}
        select = f"SELECT {_PEOPLE_COLUMNS} FROM score_people"
        rows = (self._tuples_in(f"{select} WHERE email", wanted)
                if wanted is not None else self.db.conn.execute(select))
        out = {row[0]: _stored(row) for row in rows}
        if self.read_only and wanted and self._meta("backfilled") is None:
            out = {**self._from_ledger([e for e in wanted if e not in out]), **out}
        return out

    def each(self) -> Iterator[StoredScore]:
        """Everyone, one row at a time: a rescore of 100,000 people holds one at once."""
        if self._has("score_people"):
            for row in self.db.conn.execute(f"SELECT {_PEOPLE_COLUMNS} FROM score_people"):
                yield _stored(row)

    def _from_ledger(self, emails: Sequence[str]) -> dict[str, StoredScore]:
        out: dict[str, list[Event]] = {}
        for row in self._where_in("SELECT conversion_id, email, submitted_at, form_id, campaign_id "
                                  "FROM ledger WHERE status = 'applied' AND email", emails):
            out.setdefault(row["email"], []).append(Event(
                row["conversion_id"], int(row["submitted_at"] or 0), row["form_id"] or "",
                row["campaign_id"] or ""))
        return {e: StoredScore(e, None, None, None, 0, {}, None, tuple(evs)) for e, evs in out.items()}

    def handoffs(self, keys: Iterable[str]) -> dict[str, Handoff]:
        if not self._has("score_handoffs"):
            return {}
        return {row["key"]: Handoff(row["key"], row["email"], row["record_id"], row["status"],
                                    row["task_id"])
                for row in self._where_in("SELECT * FROM score_handoffs WHERE key",
                                          sorted(set(keys)))}

    def handoff_plan(self, key: str) -> dict[str, Any]:
        row = next(self.db.query("SELECT fields FROM score_handoffs WHERE key = ?", [key]), None)
        return json.loads(row["fields"] or "{}") if row else {}

    def handoff_count(self) -> int:
        if not self._has("score_handoffs"):
            return 0
        return int(next(self.db.query("SELECT COUNT(*) AS n FROM score_handoffs"))["n"])

    def last_rescore(self) -> int | None:
        value = self._meta("last_rescore")
        return int(value) if value is not None else None

    def _meta(self, key: str) -> str | None:
        if not self._has("score_meta"):
            return None
        row = next(self.db.query("SELECT value FROM score_meta WHERE key = ?", [key]), None)
        return row["value"] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO score_meta (key, value) VALUES (?, ?)", [key, value])

    # -- writes ------------------------------------------------------------------------------
    def record_sync(self, rows: Sequence[SyncedScore]) -> None:
        """After a sync batch's writes: each applied response's event joins its person's
        history (once: by conversion id), and the person's score is the latest known (a
        backfill of older responses never overwrites a newer score).

        One upsert per response, decided inside SQLite (:data:`_SYNC_UPSERT`): the stored
        history is extended as text (its delimited list gains an element), never read back,
        parsed or written whole; this runs for every response of a sync. The rows go in
        email order (one person's in their own order): neighbouring keys land on the same
        index pages, which costs SQLite a fifth less than random order."""
        if rows:
            ordered: list[SyncedScore] = sorted(rows, key=_by_email)
            with self.state.transaction():
                self.db.conn.executemany(_SYNC_UPSERT, ordered)

    def record_scores(self, rows: Sequence[tuple[str, str, str, Score]]) -> None:
        """A rescore's written scores: (email, sObject, record id, score); history unchanged."""
        with self.state.transaction():
            self.db.conn.executemany(
                "UPDATE score_people SET sobject = ?, record_id = ?, score = ?, as_of = ?, "
                "ready = ? WHERE email = ?",
                [(sobject, record_id, s.value, s.as_of, int(s.ready), email)
                 for email, sobject, record_id, s in rows])

    def begin_handoffs(self, rows: Sequence[tuple[str, str, str, Mapping[str, Any]]],
                       stamp: str) -> None:
        """Intents before the writes: (key, email, record id, plan). A key already recorded
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
            self._set_meta("last_rescore", str(at_ms))


# History and fit values are kept as delimited text, not JSON: the sync writes one for every
# response, and a JSON encode and decode cost more than the scoring itself. Unit separators
# (ASCII 0x1c-0x1f) cannot be typed into a form; any that arrive are replaced by a space.
_EVENT, _FIELD, _PAIR, _KV = "\x1e", "\x1f", "\x1c", "\x1d"
_CONTROL = str.maketrans({c: " " for c in (_EVENT, _FIELD, _PAIR, _KV)})


def _clean(text: str | None) -> str:
    if not text:
        return ""
    # printable text holds no control character: nothing to replace (the usual case)
    return text if text.isprintable() else text.translate(_CONTROL)


def _dump_map(values: Mapping[str, str]) -> str:
    if len(values) == 1:                         # the usual case: one answer, one fit field
        for k, v in values.items():
            return f"{_clean(k)}{_KV}{_clean(v)}"
    return _PAIR.join(f"{_clean(k)}{_KV}{_clean(v)}" for k, v in values.items())


def _load_map(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    return dict(pair.split(_KV, 1) for pair in text.split(_PAIR))


def _dump_events(events: Iterable[Event]) -> str:
    return _EVENT.join(map(_dump_event, events))


def _dump_event(e: Event) -> str:
    # ids (conversion, form, campaign) hold no control characters; page and answers may
    return (f"{e.conversion_id}{_FIELD}{e.submitted_at}{_FIELD}{e.form_id}"
            f"{_FIELD}{e.campaign_id}{_FIELD}{_clean(e.page) if e.page else ''}{_FIELD}"
            f"{_dump_map(e.answers) if e.answers else ''}")


# A sync's row per applied response (?1-?8: the person's columns, in SyncedScore's order; ?9:
# the event's conversion id between delimiters). A new person
# is inserted; a known one gains the event unless the history holds its conversion id, and
# takes the score unless the stored one is newer (a replayed or backfilled older response).
# Every right-hand side reads the row as it was before this statement.
_NEWER = "(score IS NULL OR COALESCE(as_of, 0) <= excluded.as_of)"
_SYNC_UPSERT = (
    f"INSERT INTO score_people ({_PEOPLE_COLUMNS}) VALUES "
    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(email) DO UPDATE SET "
    "events = CASE WHEN COALESCE(events, '') = '' THEN excluded.events "
    "WHEN instr(char(30) || events, ?9) > 0 THEN events "
    "ELSE events || char(30) || excluded.events END, "
    + ", ".join(f"{c} = CASE WHEN {_NEWER} THEN excluded.{c} ELSE {c} END"
                for c in ("sobject", "record_id", "score", "as_of", "fit_values", "ready")))


def _by_email(row: SyncedScore) -> str:
    return row[0]


def _load_events(text: str | None) -> tuple[Event, ...]:
    if not text:
        return ()
    out = []
    for item in text.split(_EVENT):
        cid, at, form, campaign, page, answers = item.split(_FIELD)
        out.append(Event(cid, int(at), form, campaign, page or None, _load_map(answers)))
    return tuple(out)


def _stored(row: Sequence[Any]) -> StoredScore:
    """A ``score_people`` row, its columns in :data:`_PEOPLE_COLUMNS` order."""
    email, sobject, record_id, score, as_of, fit_values, ready, events = row
    return StoredScore(email, sobject, record_id, score, int(as_of or 0), _load_map(fit_values),
                       None if ready is None else bool(ready), _load_events(events))
