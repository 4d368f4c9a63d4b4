"""What a run was asked to do (``RunOptions``) and what it did (``RunReport``)."""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Protocol, Sequence

from connector.core.model import Method, Submission
from connector.ports import Writer
from connector.core.refusals import RefusalGroup, group_refusals

Progress = Callable[[int, int], None]
Select = Callable[[dict[str, Any]], bool]   # which parked ledger rows a retry takes


class PullWatcher(Protocol):
    """What a progress display hears of a run besides its batches: each page pulled, per
    source (a form), and the end of the pull with the responses to write. Set as
    ``Engine.watcher``; see :class:`connector.render.progress.RunProgress`."""

    def page(self, source: str, responses: int) -> None: ...

    def pulled(self, total: int) -> None: ...


def _never() -> bool:
    return False


@dataclass(frozen=True)
class RunOptions:
    """How one run goes, passed to it rather than set on a live engine.

    ``keep_details`` keeps a line per response for --dry-run and --json; a scheduled run keeps
    only counts, so its memory follows the batch, not the backlog. ``since_ms`` makes a
    backfill pull every form from there instead of from its watermark. ``should_stop`` is
    checked between batches: a daemon asked to stop finishes the batch in flight, records
    it, and ends the run cleanly ("stopped"). ``writer`` writes Leads and members (create,
    upsert, create_members): the client's collections by default, or a backfill's Bulk API
    writer (``connector.adapters.salesforce.bulk``) past a size.
    """

    dry_run: bool = False
    method: Method | None = None
    keep_details: bool = True
    since_ms: int | None = None
    should_stop: Callable[[], bool] = _never
    writer: Writer | None = None
    # Page only these forms (the freshness probe's pick, commands/freshness.py); None pages
    # every mapped form. A form with pending rows is paged regardless.
    forms: frozenset[str] | None = None


@dataclass
class RunReport:
    run_id: str
    method: Method
    dry_run: bool
    status: str = "running"            # ok | stopped | partial | budget | config | aborted | crashed
    error: str | None = None
    counts: Counter[str] = field(default_factory=Counter)
    responses: list[dict[str, Any]] = field(default_factory=list)
    sf_calls: int = 0
    hs_calls: int = 0
    api_used: int | None = None
    api_limit: int | None = None
    seconds: float = 0.0
    # Salesforce's codes of the responses parked this run, for the advice by category.
    refused: Counter[str] = field(default_factory=Counter)
    # Forms held back because their campaign cannot take members (core.campaigns): their
    # responses stay unrecorded and are picked up once the campaign is fixed.
    paused: list[dict[str, Any]] = field(default_factory=list)
    # What the run went on without (an owner fallen back to the default): kind, subject
    # (the config key), message; recorded with the paused forms for ``status``.
    warnings: list[dict[str, str]] = field(default_factory=list)

    def warning_rows(self) -> list[tuple[str, str, str]]:
        """The warnings and paused forms as the state's (kind, subject, message) rows."""
        return [*((w["kind"], w["subject"], w["message"]) for w in self.warnings),
                *(("paused", p["entry"], p["message"]) for p in self.paused)]

    def refusal_groups(self) -> list[RefusalGroup]:
        return group_refusals(self.refused.elements())

    @property
    def exit_code(self) -> int:
        return {"ok": 0, "stopped": 0, "partial": 3, "budget": 4, "config": 2}.get(self.status, 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "method": self.method.value, "dry_run": self.dry_run,
            "status": self.status, "exit_code": self.exit_code, "error": self.error,
            "counts": {str(k): n for k, n in self.counts.items()}, "salesforce_calls": self.sf_calls,
            "hubspot_calls": self.hs_calls,
            "salesforce_api_usage": None if self.api_used is None else
            {"used": self.api_used, "limit": self.api_limit},
            "seconds": round(self.seconds, 3), "responses": self.responses,
            "paused_forms": self.paused,
            # only when there are some: a run without warnings reads as it always did
            **({"warnings": self.warnings} if self.warnings else {}),
            "refused": [group.to_json() for group in self.refusal_groups()],
        }


@dataclass
class Batches:
    """A run's responses in batches, oldest first; ``total`` is for progress."""

    total: int
    batches: Iterable[Sequence[Submission]]

    @classmethod
    def of(cls, submissions: Sequence[Submission], size: int) -> "Batches":
        """Batches of submissions already in memory (retry, reconcile --fix)."""
        ordered = sorted(submissions, key=lambda s: (s.submitted_at, s.conversion_id))
        return cls(len(ordered), (ordered[i:i + size] for i in range(0, len(ordered), size)))


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("run-%Y%m%dT%H%M%S-") + secrets.token_hex(3)
