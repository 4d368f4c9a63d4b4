"""``leadsync backfill``: the first sync of a long history, through Bulk API 2.0 past a size.

It is a sync (the same :class:`Engine`, decisions, ledger and exit codes) with three
differences, each for the size of the job: the pull starts at ``--since`` for every form
instead of at the watermarks (which still only move forward, and the ledger skips what it
holds, so a rerun is a no-op); batches are larger than a scheduled sync's 2,000; and a
batch's Lead or member write past ``--bulk-threshold`` records goes through one Bulk API
2.0 job (:mod:`connector.adapters.salesforce.bulk`) instead of a call per 1,000 records.

A dry run writes nothing, so it opens no job; it counts each batch's planned Lead and
member writes against the threshold with the very rule the writer applies
(:mod:`connector.core.bulk_plan`) and says which would go through Bulk.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Callable

from connector.adapters.salesforce.bulk import BulkWriter
from connector.core.bulk_plan import (DEFAULT_BATCH_SIZE, DEFAULT_THRESHOLD, MAX_BATCH_SIZE, BulkPlan,
                        count_writes, split_batches)
from connector.config.settings import Settings
from connector.engine.wiring import Session
from connector.engine.report import RunOptions, RunReport
from connector.errors import ConfigError
from connector.core.model import Method
from connector.core.reconcile import parse_since
from connector.core.timefmt import to_ms
from connector.render.progress import RunProgress

POLL_SECONDS = 5.0            # between job polls against a real org (each poll is an API call)
SANDBOX_POLL_SECONDS = 0.02   # the sandbox advances a job one state per poll
TIMEOUT_SECONDS = 3600.0      # a job still running after this is aborted; the batch stays pending


@dataclass
class BackfillResult:
    report: RunReport
    writer: BulkWriter | None
    since: datetime
    notes: list[str]
    plan: BulkPlan | None = None      # a dry run's account of what would go through Bulk

    def to_json(self) -> dict[str, Any]:
        out = self.report.to_json()
        out["since"] = self.since.isoformat()
        out["bulk"] = None if self.writer is None else {
            "threshold": self.writer.threshold, "jobs": self.writer.stats.jobs,
            "records": self.writer.stats.records, "polls": self.writer.stats.polls,
            "leads_in_bulk": self.writer.leads_in_bulk,
            "job_ids": list(self.writer.stats.job_ids)}
        out["bulk_plan"] = None if self.plan is None else self.plan.to_json()
        out["notes"] = self.notes
        return out


def run_backfill(settings: Settings, *, since: str, dry_run: bool = False,
                 bulk_threshold: int = DEFAULT_THRESHOLD, batch_size: int = DEFAULT_BATCH_SIZE,
                 method: Method | None = None, retry: Any = None,
                 poll_interval: float | None = None, timeout: float = TIMEOUT_SECONDS,
                 now: datetime | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 keep_details: bool = False, watcher: RunProgress | None = None) -> BackfillResult:
    """Run one backfill and return its report (the engine's, plus what went through Bulk).

    ``keep_details`` keeps a line per response in the report (for ``--json``), as ``sync``
    does; off, a backfill's memory follows its batch, not its history. A dry run keeps them
    whatever it says: they are what the Bulk plan counts. ``watcher`` shows the run as it goes
    (pages per form, batches, each Bulk job's state: :mod:`connector.render.progress`)."""
    if not since:
        raise ConfigError("a backfill needs a start date, e.g. --since 2024-01-01", key="--since")
    start = parse_since(since, now=now or datetime.now(timezone.utc))
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ConfigError(f"must be between 1 and {MAX_BATCH_SIZE}", key="--batch-size")
    if bulk_threshold < 0:
        raise ConfigError("must be 0 or more", key="--bulk-threshold")
    # A backfill's batches are larger than a sync's (config caps those at 2,000): Bulk only
    # pays off past thousands of records in one write.
    settings = replace(settings, sync=replace(settings.sync, batch_size=batch_size))
    if poll_interval is None:
        poll_interval = SANDBOX_POLL_SECONDS if settings.salesforce.is_sandbox else POLL_SECONDS
    ends: list[int] = []   # cumulative responses at the end of each batch (for a dry run)

    def batch_done(done: int, total: int) -> None:
        ends.append(done)
        if progress:
            progress(done, total)
        if watcher is not None:
            watcher(done, total)

    session = Session(settings, dry_run=dry_run, retry=retry, progress=batch_done)
    with session as engine:
        engine.watcher = watcher
        writer = None
        salesforce = session.vendors.salesforce   # Bulk needs the concrete client's session
        refusal = BulkWriter.lead_refusal(salesforce)
        notes = [refusal] if refusal else []
        if not dry_run:
            writer = BulkWriter(salesforce, threshold=bulk_threshold, poll_interval=poll_interval,
                                timeout=timeout, on_state=watcher.bulk if watcher else None)
        # a dry run's plan counts the lines, so it keeps them whatever --json says
        report = engine.backfill(to_ms(start), RunOptions(dry_run=dry_run, method=method,
                                                          keep_details=keep_details or dry_run,
                                                          writer=writer))
    plan = None
    if dry_run:
        plan = BulkPlan(bulk_threshold, leads_in_bulk=refusal is None)
        for lines in split_batches(report.responses, ends):
            plan.add(*count_writes(lines))
    return BackfillResult(report, writer, start, notes, plan)


