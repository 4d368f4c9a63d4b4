"""``leadsync score``: the daily rescore (decay without new responses), and ``score explain``.

The rescore, exactly once across kills and lost replies:

1. everyone in the ledger is scored as of now (pure, :mod:`connector.core.enrich.rescore`);
   only the people whose written score changed go on, so Salesforce sees nothing of the rest;
2. the Leads crossing the threshold are read (Status, owner, place: one composite call per
   1,000 or so), and each promotion is planned and recorded in the state as ``pending``
   *before* any write, with the exact fields and Task it will write;
3. the score fields and hand-off fields go out in sObject Collections of 200, five to a
   composite call (1,000 records a call), as the sync writes; PATCH is idempotent;
4. the hand-off Tasks carry a UUID derived from the hand-off's key in the org's response-id
   field (upserted when it is an External ID, looked up when plain); without that field a
   resumed hand-off looks its Task up by record and subject. So a rerun after a kill or a
   lost reply finds the pending row, replays the same writes and never makes a second Task;
5. the new scores are recorded and the hand-offs settled ``done``; the run's time is kept,
   so the daemon rescores once a day.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

from connector.adapters.salesforce.soql import chunk_for_query
from connector.adapters.sqlite.schema import now_iso
from connector.adapters.sqlite.scoring import ScoreStore
from connector.config.settings import Settings
from connector.core.enrich.rescore import (Handoff, Person, Rescored, ScoreRow, demotion,
                                           promotion, rescore_one, score_update, tally)
from connector.core.enrich.scoring import Event, Score, Scoring, fit_snapshot, score
from connector.core.enrich.tasks import TaskKey
from connector.errors import ConfigError

LEAD_READ = ("Id", "Status", "OwnerId", "Country", "State", "Company")
DAY_SECONDS = 86_400


@dataclass
class RescoreReport:
    """What a rescore did (or, dry, would do); ``rows`` feed a HubSpot write-back."""

    dry_run: bool
    counts: dict[str, int]
    up: list[tuple[str, int, int | None]] = field(default_factory=list)    # email, new, old
    down: list[tuple[str, int, int | None]] = field(default_factory=list)
    rows: list[ScoreRow] = field(default_factory=list)   # every changed person, typed
    promoted: int = 0
    demoted: int = 0
    kept: int = 0                 # crossed up, but a rep's Lead (or a Contact): not touched
    tasks: int = 0
    written: int = 0
    failed: int = 0
    sf_calls: int = 0


def require_scoring(settings: Settings) -> Scoring:
    if settings.scoring is None:
        raise ConfigError("has no [scoring] section: nothing to score", key="scoring")
    return settings.scoring


def each_person(store: ScoreStore) -> Iterator[tuple[Person, Sequence[Event]]]:
    """Everyone with an applied response and a record, with their history, one person at a
    time (one pass over the ledger's applied rows in email order)."""
    for s in store.each():
        if s.sobject and s.record_id and s.events:
            yield Person(s.email, s.sobject, s.record_id, s.score, s.as_of, s.fit_values,
                         s.ready), s.events


def run_rescore(settings: Settings, *, state: Any, salesforce: Any = None, dry_run: bool = False,
                now_ms: int | None = None, prepare: Callable[[], tuple[Any, TaskKey,
                                                                       Mapping[str, str]]] | None = None
                ) -> RescoreReport:
    """Rescore everyone; write only what changed (see the module's steps).

    ``prepare`` gives the routing with owner Ids, the Task key and form names (the engine's
    preparation, read only when a promotion needs them)."""
    scoring = require_scoring(settings)
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    store = ScoreStore(state)
    total: dict[str, int] = {"people": 0, "changed": 0, "up": 0, "down": 0}
    changed: list[Rescored] = []           # a rule change can cross with the same number
    events: dict[str, Sequence[Event]] = {}   # the crossers' histories, for their Tasks
    for person, history in each_person(store):
        item = rescore_one(scoring, person, history, now_ms)
        tally(total, item)
        if item.changed or item.crossing:
            changed.append(item)
            if item.crossing:
                events[person.email] = history
    report = RescoreReport(dry_run, total)
    report.up = [(i.person.email, i.score.value, i.person.stored) for i in changed if i.crossing == "up"]
    report.down = [(i.person.email, i.score.value, i.person.stored) for i in changed
                   if i.crossing == "down"]
    report.rows = [i.row for i in changed if i.changed]
    if dry_run or not changed:
        if not dry_run:
            store.set_last_rescore(now_ms)
        return report
    usage_before = _calls(salesforce)
    # owner Ids, the Task key and form names only matter to a hand-off: a day of decay alone
    # spends no call on them (the org's describe among them)
    handing = any(i.crossing == "up" or (i.crossing == "down" and scoring.demote) for i in changed)
    routing, task_key, form_names = (prepare() if prepare and handing
                                     else (settings.routing, TaskKey(), {}))
    handoffs = _handoffs(changed, scoring=scoring, routing=routing, store=store,
                         salesforce=salesforce, events=events, form_names=form_names,
                         now_ms=now_ms, task_key=task_key, report=report)
    stamp = now_iso()
    store.begin_handoffs([(h.key, h.email, h.record_id, {"fields": h.fields, "task": h.task})
                          for h in handoffs.values()], stamp)
    ok = _write_records(changed, handoffs, scoring=scoring, zone=routing.timezone,
                        salesforce=salesforce, report=report)
    task_ids = _write_tasks([h for h in handoffs.values() if h.record_id in ok and h.task],
                            salesforce=salesforce, task_key=task_key, store=store)
    report.tasks = len(task_ids)
    store.record_scores([(i.person.email, i.person.sobject, i.person.record_id, i.score)
                         for i in changed if i.person.record_id in ok])
    store.finish_handoffs({h.key: task_ids.get(h.key) for h in handoffs.values()
                           if h.record_id in ok and (not h.task or h.key in task_ids)}, stamp)
    store.set_last_rescore(now_ms)
    report.sf_calls = _calls(salesforce) - usage_before
    return report


def _handoffs(changed: Sequence[Rescored], *, scoring: Scoring, routing: Any, store: ScoreStore,
              salesforce: Any, events: Mapping[str, Sequence[Any]], form_names: Mapping[str, str],
              now_ms: int, task_key: TaskKey, report: RescoreReport) -> dict[str, Handoff]:
    """record id -> its hand-off: resumed from the state when an earlier attempt recorded it,
    else planned from the Lead as Salesforce holds it now (read for the crossing Leads only)."""
    crossing = [i for i in changed if i.crossing == "up" or (i.crossing == "down" and scoring.demote)]
    if not crossing:
        return {}
    earlier = store.handoffs(i.handoff_key for i in crossing)
    fresh = [i for i in crossing if i.handoff_key not in earlier]
    leads = _read_leads(salesforce, [i.person.record_id for i in fresh if i.person.sobject == "Lead"])
    out: dict[str, Handoff] = {}
    for i in crossing:
        p = i.person
        before = earlier.get(i.handoff_key)
        if before is not None:
            if before.status == "pending":       # resumed: the same writes, the same Task key
                out[p.record_id] = _resumed(store, i)
            continue
        record = leads.get(p.record_id[:15]) or {}
        if i.crossing == "up":
            history = [(e.submitted_at, form_names.get(e.form_id, e.form_id))
                       for e in events.get(p.email, ())]
            h = promotion(i, scoring=scoring, routing=routing, record=record, history=history,
                          now_ms=now_ms, task_key_field=task_key.field)
            if h is None:
                report.kept += 1
                continue
            report.promoted += 1
        else:
            h = demotion(i, routing=routing, record=record)
            if h is None:
                continue
            report.demoted += 1
        out[p.record_id] = h
    return out


def _resumed(store: ScoreStore, item: Rescored) -> Handoff:
    plan = store.handoff_plan(item.handoff_key)
    p = item.person
    return Handoff(item.handoff_key, p.email, p.record_id, p.sobject, plan.get("fields") or {},
                   plan.get("task"), "resumed")


def _read_leads(salesforce: Any, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The crossing Leads' Status, owner and place, keyed by their 15-character Id."""
    if not ids:
        return {}
    statements = list(chunk_for_query("SELECT {fields} FROM Lead WHERE Id IN {values}",
                                      LEAD_READ, sorted(set(ids))))
    rows = [row for rows in salesforce.query_many(statements) for row in rows]
    return {str(row["Id"])[:15]: row for row in rows}


def _write_records(changed: Sequence[Rescored], handoffs: Mapping[str, Handoff], *,
                   scoring: Scoring, zone: str, salesforce: Any, report: RescoreReport) -> set[str]:
    """Score fields (and hand-off fields) of every changed person, 1,000 records a call; the
    record ids written."""
    records: list[tuple[str, dict[str, Any]]] = []
    for i in changed:
        fields = score_update(i, scoring, zone=zone) if i.changed else {}
        h = handoffs.get(i.person.record_id)
        if h is not None:
            fields.update(h.fields)
        if fields:
            records.append((i.person.sobject, {"Id": i.person.record_id, **fields}))
    ok: set[str] = {i.person.record_id for i in changed}   # nothing to write is written
    if not records:
        return ok
    results = salesforce.update_mixed(records)
    for (_, rec), result in zip(records, results):
        if result.get("success"):
            report.written += 1
        else:
            report.failed += 1
            ok.discard(rec["Id"])
    return ok


def _write_tasks(handoffs: Sequence[Handoff], *, salesforce: Any, task_key: TaskKey,
                 store: ScoreStore) -> dict[str, str]:
    """hand-off key -> Task Id; a Task an earlier attempt wrote is found, never made twice."""
    if not handoffs:
        return {}
    out: dict[str, str] = {}
    todo = list(handoffs)
    if task_key.field and task_key.upsert:
        results = salesforce.upsert("Task", task_key.field, [dict(h.task or {}) for h in todo])
        return {h.key: r["id"] for h, r in zip(todo, results) if r.get("success") and r.get("id")}
    resumed = [h for h in todo if h.note == "resumed"]
    if resumed:
        out.update(_found_tasks(salesforce, resumed, task_key))
        todo = [h for h in todo if h.key not in out]
    if todo:
        results = salesforce.create("Task", [dict(h.task or {}) for h in todo])
        out.update({h.key: r["id"] for h, r in zip(todo, results) if r.get("success") and r.get("id")})
    return out


def _found_tasks(salesforce: Any, handoffs: Sequence[Handoff], task_key: TaskKey) -> dict[str, str]:
    """The Tasks a resumed hand-off may have written before the kill or lost reply: by the
    key field when the org has it, else by record and subject."""
    found: dict[str, str] = {}
    if task_key.field:
        by_value = {str((h.task or {}).get(task_key.field) or "").lower(): h.key for h in handoffs}
        for row in salesforce.find_tasks(task_key.field, list(by_value)):
            key = by_value.get(str(row.get(task_key.field) or "").lower())
            if key:
                found.setdefault(key, row["Id"])
        return found
    statements = list(chunk_for_query("SELECT {fields} FROM Task WHERE WhoId IN {values}",
                                      ("Id", "WhoId", "Subject"),
                                      sorted({h.record_id for h in handoffs})))
    rows = [row for rows in salesforce.query_many(statements) for row in rows]
    for h in handoffs:
        for row in rows:
            if str(row.get("WhoId"))[:15] == h.record_id[:15] \
                    and row.get("Subject") == (h.task or {}).get("Subject"):
                found.setdefault(h.key, row["Id"])
    return found


def _calls(salesforce: Any) -> int:
    usage = getattr(salesforce, "calls", None)
    return int(usage) if isinstance(usage, int) else 0


# -- explain ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Explained:
    email: str
    score: Score | None
    stored: int | None


def explain(settings: Settings, *, state: Any, email: str, now_ms: int | None = None) -> Explained:
    """A person's score as of now, with every point, its rule, date and decay."""
    scoring = require_scoring(settings)
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    email = email.strip().lower()
    stored = ScoreStore(state).people([email]).get(email)
    if stored is None or not stored.events:
        return Explained(email, None, None)
    values = fit_snapshot(scoring, stored.fit_values)
    result = score(scoring, email=email, events=stored.events, fit_values=values, as_of=now_ms)
    return Explained(email, result, stored.score if stored else None)


def rescore_due(state: Any, now_ms: int) -> bool:
    """Once a day: the daemon's step asks before it rescores."""
    last = ScoreStore(state).last_rescore()
    return last is None or now_ms - last >= DAY_SECONDS * 1000


# -- the command's flow ----------------------------------------------------------------------

def score_command(settings: Settings, *, dry_run: bool = False, now_ms: int | None = None,
                  retry: Any = None) -> RescoreReport:
    """``leadsync score``: a dry run reads the state only (no vendor call); a real one takes
    the state's lock, as a sync does, so it never races a sync or the daemon."""
    from connector.engine.wiring import clients, open_state

    require_scoring(settings)
    state = open_state(settings, read_only=dry_run)
    try:
        if dry_run:
            return run_rescore(settings, state=state, dry_run=True, now_ms=now_ms)
        state.lock()
        vendors = clients(settings, retry=retry)
        return run_rescore(settings, state=state, salesforce=vendors.salesforce, now_ms=now_ms,
                           prepare=preparer(settings, state, vendors))
    finally:
        state.close()


def preparer(settings: Settings, state: Any, vendors: Any
             ) -> Callable[[], tuple[Any, TaskKey, Mapping[str, str]]]:
    """The engine's one-time preparation (owner names to Ids, the Task key from the org's
    describe, form names), run only when a rescore has something to write."""
    def prepare() -> tuple[Any, TaskKey, Mapping[str, str]]:
        from connector.engine.wiring import build_engine

        engine = build_engine(settings, state=state, vendors=vendors)
        policy = engine.prepared_policy()
        return policy.routing, engine.task_key, engine.form_names
    return prepare


def explain_command(settings: Settings, email: str, *, now_ms: int | None = None) -> Explained:
    from connector.engine.wiring import open_state

    state = open_state(settings, read_only=True)
    try:
        return explain(settings, state=state, email=email, now_ms=now_ms)
    finally:
        state.close()


def daily_rescore(cycle: Any) -> None:
    """The daemon's step: once a day (the last rescore's time is in the state)."""
    now_ms = int(cycle.now.timestamp() * 1000)
    if not rescore_due(cycle.state, now_ms):
        return
    report = run_rescore(cycle.settings, state=cycle.state, salesforce=cycle.clients.salesforce,
                         now_ms=now_ms, prepare=preparer(cycle.settings, cycle.state, cycle.clients))
    cycle.log({"ts": cycle.now.isoformat(timespec="seconds"), "event": "rescore",
               **report.counts, "promoted": report.promoted, "written": report.written,
               "failed": report.failed, "sf_calls": report.sf_calls})
