"""``leadsync lifecycle``: one lifecycle pass (``engine/lifecycle``) as a command and as a
daemon cycle step.

The command opens the state and takes its lock like a sync (a dry run reads it only); the
daemon's step runs on the daemon's own locked state and clients, after the sync, and logs one
line with the pass's counts and one per problem named at its start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connector.adapters.salesforce.client import SalesforceClient
from connector.adapters.transport import RetryPolicy
from connector.config.settings import Settings
from connector.engine.lifecycle import LifecycleReport, PassOptions, run_lifecycle
from connector.engine.wiring import clients, open_state

from connector.adapters.sqlite.ledger import State
from connector.adapters.sqlite.lifecycle import LifecycleStore
from connector.core.lifecycle.figures import (ActionFact, BreachRate, OwnerFigures, breach_rate,
                                              owner_figures)
from connector.core.lifecycle.model import Kind
from connector.core.mapping_rules import Problem as MappingProblem
from connector.engine.lifecycle_setup import resolve

if TYPE_CHECKING:
    from connector.commands.cycle import Cycle


def run(settings: Settings, *, dry_run: bool = False, now_ms: int | None = None,
        retry: RetryPolicy | None = None) -> LifecycleReport:
    """One pass from the command line: the state locked for it (read only for a dry run)."""
    state = open_state(settings, read_only=dry_run)
    try:
        if not dry_run:
            state.lock()
        salesforce = clients(settings, retry=retry).salesforce
        return run_lifecycle(settings, state, salesforce,
                             PassOptions(dry_run=dry_run, now_ms=now_ms))
    finally:
        state.close()


def cycle_step(cycle: "Cycle") -> None:
    """The pass in a daemon cycle: on the daemon's state and clients, stopping with it."""
    report = run_lifecycle(cycle.settings, cycle.state, cycle.clients.salesforce,
                           PassOptions(should_stop=cycle.should_stop, keep_actions=False,
                                       now_ms=int(cycle.now.timestamp() * 1000)))
    stamp = cycle.now.isoformat(timespec="seconds")
    for problem in report.problems:
        cycle.log({"ts": stamp, "event": "warning", "step": "lifecycle",
                   "message": f"lifecycle: {problem}"})
    cycle.log({"ts": stamp, "event": "lifecycle", "status": report.status,
               "watched": report.watched, "replayed": report.replayed, "failed": report.failed,
               "sf_calls": report.sf_calls, **{k: v for k, v in sorted(report.counts.items())}})


def figures(state: State) -> list[OwnerFigures]:
    """Per-owner figures from the state alone (``status`` makes no API call): every watched
    hand-off and every action taken; an older or read-only state without the tables: none."""
    store = LifecycleStore(state.db)
    if not store.present:
        return []
    facts = [ActionFact(Kind(r["kind"]), r["from_owner"], r["to_owner"]) for r in store.actions()]
    return owner_figures(store.all_watches(), facts, store.names())


def sla_breach_rate(state: State, window_seconds: int, now_ms: int) -> BreachRate:
    """The window's hand-offs and breaches, from the state (the ``[alerts]`` SLA check)."""
    since = now_ms - window_seconds * 1000
    return breach_rate(LifecycleStore(state.db).handed_off_since(since), since)


def check_problems(settings: Settings, salesforce: SalesforceClient) -> list[MappingProblem]:
    """``mappings check``'s lines for ``[lifecycle]``: owners and queues that are missing or
    inactive, recycle fields the org's Lead lacks (what the pass names at its start)."""
    if settings.lifecycle is None:
        return []
    setup = resolve(settings.lifecycle, settings.routing, salesforce)
    return [MappingProblem(0, p.key, f"{p.message} (the lifecycle pass goes on without it)")
            for p in setup.problems]
