"""Per-owner figures of the lifecycle for ``status``: hand-offs, median time to first touch,
share touched within the SLA, breaches, reassignments, recycled and come-back counts. (pure)

An owner is who held the Lead when it was handed off (a hand-off counts for the rep it was
given to, a breach for the rep who let it lapse, a recycling for the rep who sent it back).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median
from typing import Iterable, Mapping

from connector.core.lifecycle.model import Kind, Watch, WatchState


@dataclass(frozen=True)
class OwnerFigures:
    owner: str
    handoffs: int = 0
    median_first_touch_seconds: int | None = None
    within_sla_share: float | None = None
    breaches: int = 0
    reassignments: int = 0
    recycled: int = 0
    came_back: int = 0


@dataclass(frozen=True)
class ActionFact:
    kind: Kind
    from_owner: str | None
    to_owner: str | None


def owner_figures(watches: Iterable[Watch], actions: Iterable[ActionFact],
                  names: Mapping[str, str] | None = None) -> list[OwnerFigures]:
    names = names or {}
    handoffs: dict[str, int] = {}
    touches: dict[str, list[int]] = {}
    within: dict[str, list[bool]] = {}
    for w in watches:
        owner = w.first_owner_id or w.owner_id or "(none)"
        handoffs[owner] = handoffs.get(owner, 0) + 1
        if w.touched_ms is not None:
            touches.setdefault(owner, []).append(max(0, (w.touched_ms - w.handed_off_ms) // 1000))
            within.setdefault(owner, []).append(bool(w.within_sla))
    counts: dict[str, dict[str, int]] = {}
    for a in actions:
        owner = a.from_owner or "(none)"
        row = counts.setdefault(owner, {})
        if a.kind in (Kind.REASSIGN, Kind.ESCALATE, Kind.EXHAUSTED):
            row["breaches"] = row.get("breaches", 0) + 1
        if a.kind is Kind.REASSIGN:
            row["reassignments"] = row.get("reassignments", 0) + 1
        if a.kind is Kind.RECYCLE:
            row["recycled"] = row.get("recycled", 0) + 1
        if a.kind is Kind.COME_BACK:
            back = a.to_owner or owner
            counts.setdefault(back, {})["came_back"] = counts.get(back, {}).get("came_back", 0) + 1
    out = []
    for owner in sorted(set(handoffs) | set(counts), key=lambda o: names.get(o, o)):
        row = counts.get(owner, {})
        times = touches.get(owner)
        shares = within.get(owner)
        out.append(OwnerFigures(
            owner=names.get(owner, owner), handoffs=handoffs.get(owner, 0),
            median_first_touch_seconds=int(median(times)) if times else None,
            within_sla_share=sum(shares) / len(shares) if shares else None,
            breaches=row.get("breaches", 0), reassignments=row.get("reassignments", 0),
            recycled=row.get("recycled", 0), came_back=row.get("came_back", 0)))
    return out


@dataclass(frozen=True)
class BreachRate:
    """The hand-offs of a window and how many of them breached the SLA (``[alerts]``)."""

    handoffs: int
    breached: int

    @property
    def share(self) -> float:
        return self.breached / self.handoffs if self.handoffs else 0.0


def breach_rate(watches: Iterable[Watch], since_ms: int) -> BreachRate:
    """Of the hand-offs made since ``since_ms``: those the SLA ran out on at least once (sales
    touched them late, or they were reassigned, escalated or left with no one to take them)."""
    handoffs = breached = 0
    for w in watches:
        if w.handed_off_ms < since_ms:
            continue
        handoffs += 1
        if (w.reassignments > 0 or w.state in (WatchState.ESCALATED, WatchState.EXHAUSTED)
                or w.within_sla is False):
            breached += 1
    return BreachRate(handoffs, breached)
