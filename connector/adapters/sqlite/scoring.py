"""What ``[scoring]`` keeps in the state: each applied response's score and inputs on its
ledger row, the scores a rescore wrote, the hand-offs a rescore made, when it last ran.

- **The ledger is the history.** Every applied response already has its row (moment,
  form, campaign, its record); with ``[scoring]`` the sync's outcome of the row also carries
  the score that response made (``score``, ``score_ready``), the fit values it read
  (``score_fit``) and what of the response rules read beyond the ledger's own columns: the
  page and only the answers behaviour rules name, never the whole form (``score_event``).
  Written by the same statement that settles the outcome, so a response is in the history
  exactly once and only once applied (a kill or a replay cannot count it twice or lose
  it), at the cost of four parameters on a statement the sync runs anyway; read by email
  through the ledger's email index (made on the first scored batch, as Task history does).
  Rows from before ``[scoring]`` have no score and no inputs: they are scored from their
  form and campaign. ``export`` leaves the inputs out (they are people's answers).
- ``score_people``: per email, the score a *rescore* last wrote (decay with no new
  response), so the next rescore writes only what changed without reading 100,000 records
  back. A person's stored score is the newer of it and their latest scored ledger row.
- ``score_handoffs``: a rescore's promotion of a person, recorded *before* its writes as
  ``pending`` and settled ``done`` after, keyed by the person and the score it replaced: a
  rerun after a kill or a lost reply finds the same key and never hands off twice.
- ``score_meta``: the time of the last rescore (the daemon's daily step).

A state written by the release that kept each person's history in ``score_people.events``
has it moved onto the ledger rows once, on open (:func:`ensure_scoring_schema`). A
read-only state (a dry run) may lack these tables and columns: they read as empty.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Iterable, Iterator, Mapping, NamedTuple, Sequence

import sqlite_utils

from connector.adapters.sqlite.schema import HISTORY_INDEX
from connector.core.enrich.scoring import NO_ANSWERS, Event, Score

_PEOPLE_COLUMNS = "email, sobject, record_id, score, as_of, ready"
LEDGER_INPUTS = ("score", "score_ready", "score_fit", "score_event")


def _history(*, source: str, rescored: bool) -> str:
    """The applied ledger rows as the history reads them: (email, conversion id, moment,
    form, campaign, Lead, Contact, score, ready, fit values, inputs) and, with ``rescored``,
    the person's ``score_people`` row (score, as_of, ready). ``source``: the ledger, or a
    read-only state's temporary copy of its applied rows (:meth:`ScoreStore._source`)."""
    return ("SELECT l.email, l.conversion_id, l.submitted_at, l.form_id, l.campaign_id, "
            f"l.lead_id, l.contact_id, {', '.join(f'l.{c}' for c in LEDGER_INPUTS)}"
            + (f", p.score, p.as_of, p.ready FROM {source} l LEFT JOIN score_people p "
               "ON p.email = l.email" if rescored else f" FROM {source} l")
            # "+": the status index must not be chosen over the email index (without ANALYZE
            # statistics SQLite prefers it, and reads every applied row for each batch)
            + " WHERE +l.status = 'applied'")


def ensure_scoring_schema(db: sqlite_utils.Database) -> None:
    """Create the scoring tables when missing (idempotent; called on every open for writing,
    after the ledger has its score columns), and move an older release's per-person history
    onto the ledger rows once."""
    db.execute("CREATE TABLE IF NOT EXISTS score_people (email TEXT PRIMARY KEY, sobject TEXT, "
               "record_id TEXT, score INTEGER, as_of INTEGER, ready INTEGER)")
    db.execute("CREATE TABLE IF NOT EXISTS score_handoffs (key TEXT PRIMARY KEY, email TEXT, "
               "record_id TEXT, status TEXT, task_id TEXT, fields TEXT, updated_at TEXT)")
    db.execute("CREATE TABLE IF NOT EXISTS score_meta (key TEXT PRIMARY KEY, value TEXT)")
    if "events" in db.table("score_people").columns_dict and next(db.execute(
            "SELECT 1 FROM score_meta WHERE key = 'history_in_ledger'"), None) is None:
        _move_history_to_ledger(db)
        db.execute("INSERT INTO score_meta (key, value) VALUES ('history_in_ledger', '1')")


def _move_history_to_ledger(db: sqlite_utils.Database) -> None:
    """The release before kept each person's responses as scoring reads them (with their
    pages and answers) and their last fit values in ``score_people.events``/``fit_values``:
    copied onto the ledger rows those responses have (once: the column is emptied after), so
    answer and page rules keep scoring them. The last score stays in ``score_people``."""
    rows = list(db.execute("SELECT email, events, fit_values FROM score_people "
                           "WHERE events IS NOT NULL AND events != ''"))
    updates, fits = [], []
    for _email, events, fit_values in rows:
        parsed = _load_events(events)
        for e in parsed:
            updates.append((_dump_inputs(e.page, e.answers), e.conversion_id))
        if parsed and fit_values:
            latest = max(parsed, key=lambda e: (e.submitted_at, e.conversion_id))
            fits.append((fit_values, latest.conversion_id))
    db.conn.executemany("UPDATE ledger SET score_event = ? WHERE conversion_id = ? "
                        "AND score_event IS NULL", updates)
    db.conn.executemany("UPDATE ledger SET score_fit = ? WHERE conversion_id = ? "
                        "AND score_fit IS NULL", fits)
    db.execute("UPDATE score_people SET events = NULL")


class StoredScore(NamedTuple):
    """A person as the state holds them for scoring. (A named tuple: a rescore reads one
    per person.)"""

    email: str
    sobject: str | None
    record_id: str | None
    score: int | None                   # None: never scored (responses from before [scoring])
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


def score_columns(score: Score | None) -> tuple[Any, ...]:
    """The ledger's ``LEDGER_INPUTS`` columns of a settled response: the score it made, and
    the fit values and event inputs scoring reads back (one tuple per applied response of a
    sync: kept to string formatting)."""
    if score is None:
        return _UNSCORED
    event, fit_values = score.event, score.fit_values
    return (score.value, int(score.ready), _dump_map(fit_values) if fit_values else "",
            _dump_inputs(event.page, event.answers) if event is not None else "")


_UNSCORED = (None,) * len(LEDGER_INPUTS)


class ScoreStore:
    """The scoring tables, and the ledger's score columns, on a state's connection."""

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

    def _source(self) -> str:
        """Where the history is read from: the ledger, by its email index. A read-only state
        (a dry run) cannot build that index; rather than read every applied row for each
        batch, it copies the applied rows once per connection into a temporary table with
        one (a read-only connection may write its temporary database; the file is untouched).
        A state from before the score columns reads them as NULL there."""
        source = self._known.get("source")
        if source is not None:
            return str(source)
        source = "ledger"
        if self.read_only and next(self.db.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?",
                [HISTORY_INDEX]), None) is None:
            present = self.db.table("ledger").columns_dict
            inputs = ", ".join(c if c in present else f"NULL AS {c}" for c in LEDGER_INPUTS)
            self.db.conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS score_history AS SELECT email, conversion_id, "
                f"submitted_at, form_id, campaign_id, lead_id, contact_id, status, {inputs} "
                "FROM ledger WHERE status = 'applied'")
            self.db.conn.execute("CREATE INDEX IF NOT EXISTS temp.idx_score_history_email "
                                 "ON score_history (email)")
            source = "temp.score_history"
        self._known["source"] = source
        return source

    def ensure_index(self) -> None:
        """The ledger's email index the history is read by (Task history shares it): built
        once, on the first scored batch of a state that lacks it (a read-only state reads a
        temporary copy instead, see :meth:`_source`)."""
        if not self.read_only and not self._known.get("indexed"):
            self.db.execute(f"CREATE INDEX IF NOT EXISTS {HISTORY_INDEX} ON ledger (email)")
            self._known["indexed"] = True

    def _where_in(self, select: str, values: Sequence[str]) -> Iterator[dict[str, Any]]:
        for start in range(0, len(values), 500):
            part = values[start:start + 500]
            yield from self.db.query(f"{select} IN ({','.join('?' * len(part))})", part)

    # -- reads -------------------------------------------------------------------------------
    def people(self, emails: Iterable[str] | None = None) -> dict[str, StoredScore]:
        """Stored people, of ``emails`` or of everyone: their applied responses from the
        ledger, with the newer of their latest scored response and a rescore's score."""
        if emails is None:
            return {p.email: p for p in self.each()}
        self.ensure_index()                      # a write-back or lifecycle pass may come first
        wanted = sorted(set(emails))
        rescored = self._has("score_people")
        select = _history(source=self._source(), rescored=rescored) + " AND l.email"
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(wanted), 500):
            part = wanted[start:start + 500]
            rows.extend(self.db.conn.execute(f"{select} IN ({','.join('?' * len(part))})", part))
        rows.sort(key=_person_order)
        return {email: _person(email, list(group), rescored)
                for email, group in groupby(rows, key=_email_of)}

    def each(self) -> Iterator[StoredScore]:
        """Everyone with an applied response, one person at a time (the ledger's applied rows
        in email order): a rescore of 100,000 people holds one person at once."""
        rescored = self._has("score_people")
        query = (_history(source=self._source(), rescored=rescored)
                 + " ORDER BY l.email, l.submitted_at, l.conversion_id")
        for email, group in groupby(self.db.conn.execute(query), key=_email_of):
            yield _person(email, list(group), rescored)

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
    def record_scores(self, rows: Sequence[tuple[str, str, str, Score]]) -> None:
        """A rescore's written scores: (email, sObject, record id, score); history unchanged."""
        with self.state.transaction():
            self.db.conn.executemany(
                f"INSERT OR REPLACE INTO score_people ({_PEOPLE_COLUMNS}) VALUES (?,?,?,?,?,?)",
                [(email, sobject, record_id, s.value, s.as_of, int(s.ready))
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
            if k.isprintable() and v.isprintable():   # nothing to clean (no call per part)
                return f"{k}{_KV}{v}"
            return f"{_clean(k)}{_KV}{_clean(v)}"
    return _PAIR.join(f"{_clean(k)}{_KV}{_clean(v)}" for k, v in values.items())


def _load_map(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    return dict(pair.split(_KV, 1) for pair in text.split(_PAIR))


def _dump_inputs(page: str | None, answers: Mapping[str, str]) -> str:
    """A response's scoring inputs beyond the ledger's columns: its page and the answers
    behaviour rules name ("" when it has neither)."""
    if not page and not answers:
        return ""
    if page and not page.isprintable():
        page = page.translate(_CONTROL)
    return f"{page or ''}{_FIELD}{_dump_map(answers) if answers else ''}"


def _load_inputs(text: str | None) -> tuple[str | None, Mapping[str, str]]:
    if not text:
        return None, NO_ANSWERS
    page, _, answers = text.partition(_FIELD)
    return page or None, _load_map(answers) if answers else NO_ANSWERS


def _dump_events(events: Iterable[Event]) -> str:
    """The older release's ``score_people.events`` text (read by the move to the ledger,
    written by its test)."""
    return _EVENT.join(f"{e.conversion_id}{_FIELD}{e.submitted_at}{_FIELD}{e.form_id}"
                       f"{_FIELD}{e.campaign_id}{_FIELD}{_clean(e.page) if e.page else ''}"
                       f"{_FIELD}{_dump_map(e.answers) if e.answers else ''}" for e in events)


def _load_events(text: str | None) -> tuple[Event, ...]:
    if not text:
        return ()
    out = []
    for item in text.split(_EVENT):
        cid, at, form, campaign, page, answers = item.split(_FIELD)
        out.append(Event(cid, int(at), form, campaign, page or None, _load_map(answers)))
    return tuple(out)


def _email_of(row: Sequence[Any]) -> str:
    return str(row[0])


def _person_order(row: Sequence[Any]) -> tuple[str, int, str]:
    return row[0], row[2] or 0, row[1]


def _person(email: str, rows: Sequence[Sequence[Any]], rescored: bool) -> StoredScore:
    """One person from their applied ledger rows (oldest first, columns as :func:`_history`):
    their responses as events, the record of the latest, the fit values and score of the
    latest scored response, unless a rescore wrote a score as of a later moment."""
    events = []
    sobject = record_id = None
    score = ready = fit = None
    as_of = 0
    for row in rows:
        cid, at, form, campaign, lead, contact, value, is_ready, fit_text, inputs = row[1:11]
        page, answers = _load_inputs(inputs)
        events.append(Event(cid, int(at or 0), form or "", campaign or "", page, answers))
        if contact:
            sobject, record_id = "Contact", contact
        elif lead:
            sobject, record_id = "Lead", lead
        if value is not None:
            score, ready, as_of = value, is_ready, int(at or 0)
        if fit_text:
            fit = fit_text
    if rescored:
        later, later_at, later_ready = rows[-1][11:14]
        if later is not None and (score is None or int(later_at or 0) >= as_of):
            score, ready, as_of = later, later_ready, int(later_at or 0)
    return StoredScore(email, sobject, record_id, score, as_of, _load_map(fit),
                       None if ready is None else bool(ready), tuple(events))
