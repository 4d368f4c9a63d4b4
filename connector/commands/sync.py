"""``leadsync sync`` and ``leadsync retry``: one run of the engine, built from the settings."""

from __future__ import annotations

from connector.config.settings import Settings
from connector.core.model import Method
from connector.engine.report import Progress, RunOptions, RunReport
from connector.engine.wiring import Session
from connector.render.progress import RunProgress


def run_sync(settings: Settings, *, dry_run: bool = False, method: Method | None = None,
             keep_details: bool = True, progress: Progress | None = None,
             watcher: RunProgress | None = None) -> RunReport:
    """Pull what is new since each form's watermark, decide, write, record; ``watcher``
    shows pages and batches as they go (:mod:`connector.render.progress`)."""
    with Session(settings, dry_run=dry_run, progress=progress or watcher) as engine:
        engine.watcher = watcher
        return engine.run(RunOptions(dry_run=dry_run, method=method, keep_details=keep_details))


def run_retry(settings: Settings, *, dry_run: bool = False) -> RunReport:
    """Re-attempt every parked response after the admin fixed their cause (the selection,
    and the wait for a running daemon, are in ``commands/parked.run_retry``)."""
    from connector.commands.parked import run_retry as retry_selected

    return retry_selected(settings, dry_run=dry_run)
