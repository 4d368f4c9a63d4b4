"""One lifecycle pass: watched hand-offs read in pages, decided (``core.lifecycle``), and
written exactly once.

The order, per page of watches (:data:`PAGE`, read in one composite call or two):

1. the Leads and their Tasks are read (``adapters/salesforce/lifecycle``);
2. each watch is decided; the actions that write are recorded ``pending`` with their full
   plan, together with the watches' new state and the pool's new position, in ONE
   transaction, before anything is written;
3. the Lead and Task updates go in one sObject Collections write (idempotent: sent again on
   a lost reply), then the Tasks to create (not idempotent: a lost reply stops the pass);
4. the actions are settled (``done`` with their Task, or ``failed`` with the watch put back).

A pass killed or cut off between 2 and 4 leaves pending actions; the next pass replays them
first: the same updates again, and each Task looked for (the Lead, its subject, created since
the intent) before it is created. So a reassignment, a rotation step or a Task happens once.

A dry run is the same pass on an in-memory copy of the state, without step 3.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import sqlite_utils

from connector.adapters.salesforce.client import SalesforceClient
from connector.adapters.salesforce.lifecycle import find_created_tasks, read_leads
from connector.adapters.sqlite.ledger import State
from connector.adapters.sqlite.lifecycle import (ActionRow, Intent, LifecycleStore, Plan,
                                                 ensure_lifecycle)
from connector.adapters.salesforce.replies import result_error
from connector.config.settings import Settings
from connector.core.lifecycle.decide import decide
from connector.core.lifecycle.model import Kind, Verdict, Watch, WatchState
from connector.engine.lifecycle_setup import Problem, Setup, resolve
from connector.errors import AmbiguousWrite, ConfigError

PAGE = 1500              # watches a page: 5 statements of 300 Ids, one composite call
LOOKBACK_MS = 3_600_000  # how far before its intent a replayed Task create looks for its Task
Checkpoint = Callable[[str], None]


@dataclass(frozen=True)
class ActionLine:
    """One action of the pass, as the dry run and the report list it."""

    lead_id: str
    kind: str
    reason: str
    from_owner: str | None = None
    to_owner: str | None = None


@dataclass
class LifecycleReport:
    run_id: str
    now_ms: int
    dry_run: bool
    status: str = "ok"                 # ok | stopped | budget | interrupted
    error: str | None = None
    watched: int = 0                   # watches read this pass
    taken_in: int = 0                  # hand-offs newly watched
    replayed: int = 0                  # pending actions of an earlier pass, finished now
    counts: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    problems: list[Problem] = field(default_factory=list)
    actions: list[ActionLine] = field(default_factory=list)
    sf_calls: int = 0


@dataclass
class PassOptions:
    dry_run: bool = False
    now_ms: int | None = None               # None: the clock; tests walk time forward
    keep_actions: bool = True               # a bench keeps none (memory flat in the watches)
    should_stop: Callable[[], bool] = lambda: False
    checkpoint: Checkpoint | None = None    # tests: raise at a named step to stand for a kill
    page: int = PAGE


def run_lifecycle(settings: Settings, state: State, salesforce: SalesforceClient,
                  options: PassOptions | None = None) -> LifecycleReport:
    """One pass; the caller holds the state's lock (or passes a read-only state for a dry run)."""
    options = options or PassOptions()
    rules = settings.lifecycle
    if rules is None:
        raise ConfigError("no [lifecycle] section: nothing to watch", key="lifecycle")
    now_ms = options.now_ms if options.now_ms is not None else int(time.time() * 1000)
    report = LifecycleReport(run_id=uuid.uuid4().hex, now_ms=now_ms, dry_run=options.dry_run)
    calls_before = salesforce.calls
    db = _scratch_copy(state) if options.dry_run or state.read_only else state.db
    ensure_lifecycle(db)
    store = LifecycleStore(db)
    try:
        setup = resolve(rules, settings.routing, salesforce, state)
        if settings.scoring is not None:
            setup.score_ready_since = lambda recycled: _score_ready_since(state, recycled)
        report.problems = setup.problems
        if not options.dry_run:
            report.replayed = _replay(store, salesforce, report, options)
        report.taken_in = store.take_in_handoffs()
        rotation = store.rotation(setup.pool_key)
        for page in store.due(now_ms, page=options.page):
            if options.should_stop():
                report.status = "stopped"
                break
            usage = salesforce.usage    # the newest reply's Sforce-Limit-Info
            if usage is not None and usage.share >= settings.salesforce.budget_share:
                # as the sync does between batches: the org's API allowance is not ours alone
                report.status = "budget"
                report.error = (f"Salesforce API usage {usage.used}/{usage.limit} is past the "
                                f"budget share {settings.salesforce.budget_share:.0%}; the next "
                                "pass goes on")
                break
            rotation = _page(page, setup, store, salesforce=salesforce, report=report,
                             options=options, rotation=rotation)
        store.save_names(setup.names)
    except AmbiguousWrite as exc:
        # a Task create whose reply was lost: its action stays pending, and the next pass
        # looks for the Task before creating it
        report.status, report.error = "interrupted", str(exc)
    finally:
        report.sf_calls = salesforce.calls - calls_before
        if db is not state.db:
            db.conn.close()
    return report


def _scratch_copy(state: State) -> sqlite_utils.Database:
    """The state copied into memory: a dry run decides as a real pass would and keeps nothing."""
    memory = sqlite3.connect(":memory:", isolation_level=None)
    state.db.conn.backup(memory)
    return sqlite_utils.Database(memory)


def _page(page: list[Watch], setup: Setup, store: LifecycleStore, *, salesforce: SalesforceClient,
          report: LifecycleReport, options: PassOptions, rotation: int) -> int:
    leads = read_leads(salesforce, [w.lead_id for w in page], reason_field=setup.reason_field,
                       date_field=setup.date_field)
    recycled = {w.lead_id: w.recycled_ms or 0 for w in page if w.state is WatchState.RECYCLED}
    forms = store.forms_since(recycled) if recycled else {}
    scored = setup.score_ready_since({w.email: w.recycled_ms or 0 for w in page
                                      if w.state is WatchState.RECYCLED})
    report.watched += len(page)
    setup.names.update({f.owner_id: f.owner_name for f in leads.values()
                        if f.owner_id and f.owner_name})
    intents: list[Intent] = []
    quiet: list[Watch] = []
    moved = False
    for watch in page:
        lead = leads.get(watch.lead_id)
        verdict = decide(watch, lead, setup.rules, now_ms=report.now_ms, pool=setup.pool,
                         rotation=rotation, routing=setup.routing,
                         forms_since_recycled=forms.get(watch.lead_id, ()), names=setup.names,
                         score_ready_since_recycled=watch.email in scored)
        if verdict.rotation is not None:
            rotation, moved = verdict.rotation, True
        report.counts[verdict.kind.value] = report.counts.get(verdict.kind.value, 0) + 1
        if verdict.kind is not Kind.LEAVE and options.keep_actions:
            report.actions.append(ActionLine(watch.lead_id, verdict.kind.value, verdict.reason,
                                             _name(verdict.from_owner_id, setup),
                                             _name(verdict.owner_id, setup)))
        if verdict.kind.writes or verdict.kind is Kind.EXHAUSTED:
            intents.append(_intent(watch, verdict, report.now_ms))
        elif verdict.watch != watch:
            quiet.append(verdict.watch)
    store.save_watches(quiet)
    store.record_intents(intents, run_id=report.run_id, pool=setup.pool_key,
                         rotation=rotation if moved else None)
    _check(options, "intents")
    if options.dry_run:
        return rotation
    _apply([i.action for i in intents], store, salesforce=salesforce, report=report,
           options=options, replay=False)
    return rotation


def _intent(watch: Watch, verdict: Verdict, now_ms: int) -> Intent:
    plan = Plan(lead_id=watch.lead_id, owner_id=verdict.owner_id, status=verdict.status,
                move_tasks=verdict.move_tasks, task_owner_id=verdict.task_owner_id,
                new_task=verdict.new_task)
    action = ActionRow(uuid.uuid4().hex, watch.lead_id, verdict.kind, now_ms, plan, watch,
                       verdict.reason)
    return Intent(action, verdict.watch, verdict.from_owner_id, verdict.owner_id)


def _replay(store: LifecycleStore, salesforce: SalesforceClient, report: LifecycleReport,
            options: PassOptions) -> int:
    """Finish the actions an earlier pass recorded and did not settle (a kill, a lost reply)."""
    pending = store.pending()
    if pending:
        _apply(pending, store, salesforce=salesforce, report=report, options=options,
               replay=True)
    return len(pending)


def _apply(actions: list[ActionRow], store: LifecycleStore, *, salesforce: SalesforceClient,
           report: LifecycleReport, options: PassOptions, replay: bool) -> None:
    """Updates (one collections write), then Task creates, then the settlement."""
    failed: dict[str, str] = {}
    updates: list[tuple[str, dict[str, Any]]] = []
    owners: list[str] = []
    for action in actions:
        plan = action.plan
        fields = {k: v for k, v in (("OwnerId", plan.owner_id), ("Status", plan.status)) if v}
        if fields:
            updates.append(("Lead", {"Id": plan.lead_id, **fields}))
            owners.append(action.id)
        for task_id in plan.move_tasks:
            updates.append(("Task", {"Id": task_id, "OwnerId": plan.task_owner_id}))
            owners.append(action.id)
    if updates:
        for owner, result in zip(owners, salesforce.update_mixed(updates)):
            if not result.get("success"):
                failed.setdefault(owner, _error_text(result))
    _check(options, "updates")
    created = _create_tasks([a for a in actions if a.plan.new_task and a.id not in failed],
                            salesforce, store, failed, replay=replay)
    _check(options, "creates")
    done = [(a, created.get(a.id)) for a in actions if a.id not in failed]
    store.settle(done, [(a, failed[a.id]) for a in actions if a.id in failed])
    report.failed += len(failed)
    _check(options, "settled")


def _create_tasks(actions: list[ActionRow], salesforce: SalesforceClient, store: LifecycleStore,
                  failed: dict[str, str], *, replay: bool) -> dict[str, str]:
    """Action id -> the Task it created; on a replay a Task found first is the one created.

    The look-up reaches back :data:`LOOKBACK_MS` before the intent (or the wall clock, if
    earlier: the pass's "now" and Salesforce's clock may differ), and skips Tasks another
    settled action already claimed, so two escalations of one Lead never share a Task."""
    out: dict[str, str] = {}
    if not actions:
        return out
    todo = actions
    if replay:
        wall = int(time.time() * 1000)
        found = find_created_tasks(salesforce, [
            (a.lead_id, _task(a)["Subject"], min(a.created_ms, wall) - LOOKBACK_MS)
            for a in actions])
        claimed = store.claimed_tasks(i for ids in found.values() for i in ids)
        todo = []
        for action in actions:
            free = [i for i in found.get((action.lead_id, _task(action)["Subject"]), [])
                    if i not in claimed]
            if free:
                out[action.id] = free[0]
                claimed.add(free[0])
            else:
                todo.append(action)
    if todo:
        for action, result in zip(todo, salesforce.create("Task", [_task(a) for a in todo])):
            if result.get("success") and result.get("id"):
                out[action.id] = str(result["id"])
            else:
                failed[action.id] = _error_text(result)
    return out


def _task(action: ActionRow) -> dict[str, Any]:
    task = action.plan.new_task
    assert task is not None
    record: dict[str, Any] = {"WhoId": action.lead_id, "Subject": task.subject,
                              "Description": task.description, "ActivityDate": task.due_date,
                              "Priority": task.priority, "Status": "Not Started"}
    if task.owner_id:
        record["OwnerId"] = task.owner_id
    return record


def _error_text(result: dict[str, Any]) -> str:
    code, message = result_error(result)
    return f"{code}: {message}" if message else str(code)


def _name(owner_id: str | None, setup: Setup) -> str | None:
    return None if owner_id is None else setup.names.get(owner_id, owner_id)


def _check(options: PassOptions, step: str) -> None:
    if options.checkpoint is not None:
        options.checkpoint(step)


def _score_ready_since(state: State, recycled: Mapping[str, int]) -> set[str]:
    """The recycled people whose stored score is sales-ready and was computed after they were
    recycled (by a response or a daily rescore): a rise since, not the score they left with."""
    if not recycled:
        return set()
    from connector.adapters.sqlite.scoring import ScoreStore

    stored = ScoreStore(state).people(recycled)
    return {email for email, s in stored.items()
            if s.ready and s.as_of > recycled.get(email, 0)}
