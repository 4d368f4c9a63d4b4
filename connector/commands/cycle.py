"""What the daemon does after each sync in a cycle: the lifecycle pass, the daily rescore, the
retry of transient parked responses, and whatever a later capability adds.

Each step is a function of one :class:`Cycle` (the settings, the daemon's open state, its
clients, a log and the stop flag). A step that fails is logged and the daemon goes on: one
capability's trouble never stops the sync, which is the daemon's first job. A capability
adds itself in :func:`steps_for`, one line, and runs only when its section is configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from connector.adapters.sqlite.ledger import State
from connector.commands.lifecycle import cycle_step as lifecycle_step
from connector.config.settings import Settings
from connector.engine.wiring import Clients
from connector.commands.writeback import writeback_step

Log = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Cycle:
    """One cycle's context, handed to every step."""

    settings: Settings
    state: State                      # the daemon's state, its lock held for the daemon's life
    clients: Clients                  # the daemon's Salesforce and HubSpot clients
    log: Log
    should_stop: Callable[[], bool]   # a SIGTERM mid-step: finish the current write, then return
    now: datetime


Step = Callable[[Cycle], None]


def steps_for(settings: Settings) -> list[tuple[str, Step]]:
    """The steps this configuration asks for, in the order they run after the sync."""
    steps: list[tuple[str, Step]] = []
    steps.append(("parked_retry", _parked_retry))   # transient parked codes, with backoff
    if settings.scoring is not None:     # [scoring]: daily decay (before the lifecycle reads it)
        steps.append(("rescore", _daily_rescore))
    if settings.lifecycle is not None:   # [lifecycle]: SLA watch, recycling (before write-back)
        steps.append(("lifecycle", lifecycle_step))
    if settings.writeback is not None:   # [writeback]: HubSpot contacts learn the outcome
        steps.append(("writeback", writeback_step))
    return steps


def _parked_retry(cycle: Cycle) -> None:
    from connector.commands.parked import retry_transient

    retry_transient(cycle)


def _daily_rescore(cycle: Cycle) -> None:
    from connector.commands.score import daily_rescore   # imported when configured only

    daily_rescore(cycle)


def run_steps(steps: list[tuple[str, Step]], cycle: Cycle) -> None:
    """Run each step; a failure is one log line naming the step (its type only: an
    unexpected error's text may quote a request), never the end of the cycle."""
    from connector.errors import LeadsyncError

    for name, step in steps:
        if cycle.should_stop():
            return
        try:
            step(cycle)
        except LeadsyncError as exc:
            cycle.log({"ts": cycle.now.isoformat(timespec="seconds"), "event": "error",
                       "step": name, "message": f"{name} failed: {exc}; the sync goes on"})
        except Exception as exc:  # noqa: BLE001 - a daemon outlives one bad step
            cycle.log({"ts": cycle.now.isoformat(timespec="seconds"), "event": "error",
                       "step": name, "message": f"{name} crashed with {type(exc).__name__}"})
