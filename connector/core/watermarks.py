"""Watermarks: how far each stream's responses are durably recorded, and where a stream
with none starts (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

DEFAULT_START_AGE = 30 * 86400     # [sync] start = "30d"


@dataclass(frozen=True)
class StartPoint:
    """``[sync] start``: where a form leadsync has never read begins.

    Either a moment (``at_ms``, from an ISO date or datetime) or an age before the run
    (``age_seconds``, from "30d"). Without it a new form would be read from its whole
    history: years of submissions turned into Leads, CampaignMembers and follow-up Tasks on
    the first run of a form someone just mapped. ``leadsync backfill --since`` is how an
    admin takes more, on purpose.
    """

    at_ms: int | None = None
    age_seconds: int | None = None

    def resolve(self, now_ms: int) -> int:
        """The start in epoch milliseconds for a run at ``now_ms`` (never before 0)."""
        if self.at_ms is not None:
            return max(0, self.at_ms)
        age = DEFAULT_START_AGE if self.age_seconds is None else self.age_seconds
        return max(0, now_ms - age * 1000)

    def describe(self) -> str:
        """As an admin wrote it, for notes and reports."""
        if self.at_ms is not None:
            from connector.core.timefmt import iso_ms
            return str(iso_ms(self.at_ms))
        age = DEFAULT_START_AGE if self.age_seconds is None else self.age_seconds
        return f"{age // 86400}d" if age % 86400 == 0 else f"{age}s"


def first_since(watermark: int | None, start: StartPoint, now_ms: int, lookback_ms: int) -> int:
    """Where a form's pull begins (epoch ms).

    A form with a watermark is read from the watermark minus the lookback window (a
    submission HubSpot indexed late is still caught; the ledger drops what it holds). A
    form with none starts at ``[sync] start``, not at the beginning of its history.
    """
    if watermark is None:
        return start.resolve(now_ms)
    return max(0, watermark - lookback_ms)


def advance_watermark(current: int | None, recorded: Iterable[int], ceiling: int) -> int | None:
    """The new watermark: the newest recorded submission, never past the run's start.

    Capping at the start time (Meltano's "signpost") keeps a clock-skewed submission from
    pushing the watermark into the future; the lookback window re-reads the edge anyway and
    the ledger drops what it already holds, so ties on the boundary are kept exactly once.
    """
    newest = max(recorded, default=None)
    if newest is None:
        return current
    candidate = min(newest, ceiling)
    return candidate if current is None else max(current, candidate)
