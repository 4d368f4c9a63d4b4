"""``leadsync writeback`` and the daemon's write-back step: keep HubSpot contacts up to date.

The flow only wires: the state (locked for a real run, read-only for a dry run), the
clients, and :class:`connector.engine.writeback.Writeback`, which collects the people
leadsync handed off or attached and pushes what changed. Nothing here halts a sync: a
property HubSpot lacks is a problem in the report, a missing contact a count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connector.config.settings import Settings
from connector.engine.wiring import clients, open_state
from connector.engine.writeback import Writeback, WritebackReport
from connector.errors import ConfigError

if TYPE_CHECKING:
    from connector.commands.cycle import Cycle


def run_writeback(settings: Settings, *, dry_run: bool = False, retry: object = None) -> WritebackReport:
    """One write-back pass over everyone in the ledger."""
    if settings.writeback is None:
        raise ConfigError("no [writeback] section: add one to say which HubSpot properties to keep",
                          key="writeback")
    state = open_state(settings, read_only=dry_run)
    try:
        if not dry_run:
            state.lock()
        vendors = clients(settings, retry=retry)  # type: ignore[arg-type]
        writeback = Writeback(settings, hubspot=vendors.hubspot, salesforce=vendors.salesforce, state=state)
        return writeback.run(dry_run=dry_run)
    finally:
        state.close()


def writeback_step(cycle: "Cycle") -> None:
    """The daemon's step: one pass on the daemon's state and clients, a log line of counts."""
    writeback = Writeback(cycle.settings, hubspot=cycle.clients.hubspot, salesforce=cycle.clients.salesforce,
                          state=cycle.state,
                          log=lambda message: cycle.log({"ts": cycle.now.isoformat(timespec="seconds"),
                                                         "event": "writeback_problem", "message": message}))
    report = writeback.run(should_stop=cycle.should_stop)
    cycle.log({"ts": cycle.now.isoformat(timespec="seconds"), "event": "writeback",
               **report.counts.as_dict(), "salesforce_calls": report.salesforce_calls})
