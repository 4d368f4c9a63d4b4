"""Watermarks: how far each stream's responses are durably recorded (pure)."""

from __future__ import annotations

from typing import Iterable


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
