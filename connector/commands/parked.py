"""``leadsync parked list|dismiss``, ``retry``'s selection, and the daemon's transient retries.

The parked workflow, in the order an admin meets it: ``parked list`` shows what is parked
and why (by code, form or email; CSV for a spreadsheet); the cause is fixed in the org or the
config; ``retry --code C`` re-attempts just those; what is known junk (a test fill, a
competitor) is ``parked dismiss``ed with a note, which keeps the row and says who and when,
and takes it out of ``retry``, ``reconcile``'s drift and the health rules. Transient codes
(``core.parked``) the daemon retries by itself, with backoff, as a cycle step.

Writers and the daemon: ``retry``, ``dismiss`` and ``reconcile --fix`` take the state's
writer lock, waiting up to :data:`LOCK_WAIT_SECONDS` while a daemon's run holds it; the
daemon lets it go between runs (``adapters/sqlite/lock.py``), so two writers never overlap.
"""

from __future__ import annotations

import getpass
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from connector.adapters.sqlite import parked as rows
from connector.adapters.sqlite.ledger import State
from connector.config.settings import Settings
from connector.core.model import Status
from connector.core.parked import (ParkedFilter, ParkedRow, RetryPlan, first_plan, is_transient)
from connector.engine.report import RunOptions, RunReport
from connector.errors import ConfigError

LOCK_WAIT_SECONDS = 900.0   # how long a writer waits for a daemon's run to finish

if TYPE_CHECKING:
    from connector.render.progress import RunProgress


def resolve_form(settings: Settings, form: str | None) -> str | None:
    """``--form``: a form id, or its config entry as ``campaigns[i]`` (how warnings name it)."""
    if form is None:
        return None
    if form.startswith("campaigns[") and form.endswith("]"):
        index = form[len("campaigns["):-1]
        if index.isdigit() and int(index) < len(settings.campaigns):
            return settings.campaigns[int(index)].form_id
        raise ConfigError(f"no entry {form} in [[campaigns]]", key="--form")
    return form


def selection(settings: Settings, *, code: str | None = None, form: str | None = None,
              email: str | None = None, id: str | None = None) -> ParkedFilter:
    return ParkedFilter(code=code, form=resolve_form(settings, form), email=email, id=id)


def list_parked(settings: Settings, chosen: ParkedFilter, *, include_dismissed: bool = False
                ) -> list[ParkedRow]:
    """The parked rows ``chosen`` matches, read-only (a running daemon is not disturbed)."""
    state = State.open_read_only(settings.state_path)
    try:
        return rows.parked_rows(state.db, chosen, include_dismissed=include_dismissed)
    finally:
        state.close()


def who() -> str:
    """Who dismisses: the OS user on this host (the admin at the terminal)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


@dataclass(frozen=True)
class Dismissed:
    conversion_id: str
    error_code: str
    by: str


def dismiss(settings: Settings, conversion_id: str, note: str, *,
            waiting: Callable[[str], None] | None = None) -> Dismissed:
    """Dismiss one parked response with a note (kept with who and when)."""
    if not note.strip():
        raise ConfigError("give a note saying why the response is dismissed", key="--note")
    state = State.open(settings.state_path)
    try:
        state.lock(wait=LOCK_WAIT_SECONDS, waiting=waiting)
        by = who()
        code = rows.dismiss(state.db, conversion_id, note=note.strip(), by=by)
        if code is None:
            raise ConfigError(f"no parked response {conversion_id} (see `leadsync parked list`)",
                              key="--id")
        return Dismissed(conversion_id, code, by)
    finally:
        state.close()


def run_retry(settings: Settings, *, dry_run: bool = False, chosen: ParkedFilter | None = None,
              waiting: Callable[[str], None] | None = None,
              watcher: "RunProgress | None" = None) -> RunReport:
    """``leadsync retry``: the parked rows ``chosen`` selects (all without a filter), through
    the sync's own path; waits for a daemon's run to finish rather than refusing. ``watcher``
    shows the pages read again and the batches written (``render/progress.py``)."""
    from connector.engine.wiring import Session

    session = Session(settings, dry_run=dry_run, progress=watcher)
    with session as engine:
        engine.watcher = watcher
        if not dry_run:
            session.state.lock(wait=LOCK_WAIT_SECONDS, waiting=waiting)
        select = None if chosen is None or chosen.empty else chosen.matches
        return engine.retry(RunOptions(dry_run=dry_run), select=select)


# -- the daemon's step ------------------------------------------------------------------

def due_transient(db: Any, now: float) -> tuple[list[str], dict[str, RetryPlan], list[str]]:
    """The transient parked rows whose next try is due, every transient row's plan (a row
    seen for the first time gets one, its first try a base delay after its parking), and the
    stored plans of rows no longer parked (retried or dismissed by hand), to forget."""
    stored = rows.retry_plans(db)
    plans: dict[str, RetryPlan] = {}
    due: list[str] = []
    for row in db.query("SELECT conversion_id, error_code, updated_at FROM ledger WHERE status = ?",
                        [Status.FAILED.value]):
        if not is_transient(row["error_code"]):
            continue
        cid = row["conversion_id"]
        plans[cid] = stored.get(cid) or first_plan(cid, _epoch(row["updated_at"], now))
        if plans[cid].due(now):
            due.append(cid)
    return due, plans, [cid for cid in stored if cid not in plans]


def _parked_by(state: State, ids: set[str]) -> dict[str, tuple[str, str]]:
    """conversion id -> (run id, error code) of these parked rows, before a retry."""
    return {cid: (row["run_id"], row["error_code"]) for cid in ids
            if (row := state.ledger(cid)) is not None}


def _keep_parking_run(state: State, before: dict[str, tuple[str, str]], run_id: str) -> None:
    """A row the automatic retry parked again *for the same code* keeps the run that first
    parked it. The health rules call a code "new" when the last run parked it and no earlier
    run's rows carry it (``commands/health.py``); an automatic retry of every row of a
    known transient code would otherwise page the admin (``/healthz`` 503) after each try
    for nothing new. A row parked again for another code keeps the retry's run: that is news."""
    with state.transaction() as db:
        for cid, (first_run, code) in before.items():
            db.execute("UPDATE ledger SET run_id = ? WHERE conversion_id = ? AND run_id = ? "
                       "AND status = ? AND error_code = ?",
                       [first_run, cid, run_id, Status.FAILED.value, code])


def _epoch(stamp: str | None, default: float) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(stamp).timestamp() if stamp else default
    except ValueError:
        return default


def retry_transient(cycle: Any, *, clock: Callable[[], float] = time.time) -> RunReport | None:
    """The daemon's cycle step: retry the due transient parked rows on the daemon's state and
    clients (its writer lock is held during the cycle), then move each one's next try on."""
    from connector.engine.wiring import build_engine

    state: State = cycle.state
    now = clock()
    due, plans, stale = due_transient(state.db, now)
    if not due:
        rows.save_plans(state.db, plans.values(), settled=stale)
        return None
    wanted = set(due)
    before = _parked_by(state, wanted)
    engine = build_engine(cycle.settings, state=state, vendors=cycle.clients)
    report = engine.retry(RunOptions(keep_details=False, should_stop=cycle.should_stop),
                          select=lambda row: row["conversion_id"] in wanted)
    statuses = state.statuses(wanted)
    still = [cid for cid in due if statuses.get(cid) == Status.FAILED.value]
    settled = [cid for cid in due if statuses.get(cid) != Status.FAILED.value]
    _keep_parking_run(state, before, report.run_id)
    for cid in still:
        plans[cid] = plans[cid].after_try(clock())
    for cid in settled:
        plans.pop(cid, None)
    rows.save_plans(state.db, plans.values(), settled=[*settled, *stale])
    cycle.log({"ts": cycle.now.isoformat(timespec="seconds"), "event": "parked_retry",
               "message": f"retried {len(due)} transient parked response(s): "
                          f"{len(settled)} settled, {len(still)} still parked",
               "run_id": report.run_id, "status": report.status,
               "tried": len(due), "settled": len(settled), "still_parked": len(still)})
    return report
