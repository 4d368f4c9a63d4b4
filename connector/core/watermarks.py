"""Where a form's watermark may move after a batch: pure arithmetic over submission times.

Kept out of the SQLite adapter because it decides nothing about storage: the engine asks
it what the new watermark is, and the state stores that in the same transaction as the
outcomes it covers.
"""

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
