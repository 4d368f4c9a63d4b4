"""``leadsync lifecycle``: one lifecycle pass (``engine/lifecycle``) as a command and as a
daemon cycle step.

The command opens the state and takes its lock like a sync (a dry run reads it only); the
daemon's step runs on the daemon's own locked state and clients, after the sync, and logs one
line with the pass's counts and one per problem named at its start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from connector.adapters.transport import RetryPolicy
from connector.config.settings import Settings
from connector.engine.lifecycle import LifecycleReport, PassOptions, PersonRow, run_lifecycle
from connector.engine.wiring import clients, open_state

if TYPE_CHECKING:
    from connector.commands.cycle import Cycle


def run(settings: Settings, *, dry_run: bool = False, now_ms: int | None = None,
        retry: RetryPolicy | None = None,
        on_person: Callable[[PersonRow], None] | None = None) -> LifecycleReport:
    """One pass from the command line: the state locked for it (read only for a dry run)."""
    state = open_state(settings, read_only=dry_run)
    try:
        if not dry_run:
            state.lock()
        salesforce = clients(settings, retry=retry).salesforce
        return run_lifecycle(settings, state, salesforce,
                             PassOptions(dry_run=dry_run, now_ms=now_ms, on_person=on_person))
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
