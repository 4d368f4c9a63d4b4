"""``[lifecycle]`` as plain data: the SLA, what counts as a touch, what a breach does, and the
rep's way back to marketing (recycling). (pure)

Seed 002, point 5: "track when sales acts on a lead, and have a process in place to reassign
the lead or escalate the issue in a timely fashion if your service level agreement is not
met", and "the ability for reps to recycle leads, and to specify the timeframe when they
want that lead to come back around". Parsed by ``connector.config.lifecycle``; decided on by
``connector.core.lifecycle.decide``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from connector.core.enrich.owners import OwnerRef


class OnBreach(StrEnum):
    """What a breach does: ``reassign`` up to ``max_reassignments`` (then nothing more),
    ``escalate`` at the first breach, or ``both``: reassign up to the maximum, then escalate."""

    REASSIGN = "reassign"
    ESCALATE = "escalate"
    BOTH = "both"


class Touch(StrEnum):
    """What counts as sales having acted on a hand-off (``touched_when``)."""

    STATUS = "status"       # the Lead Status moved off the sales-ready status
    TASK = "task"           # the follow-up Task was completed (Task.IsClosed)
    ACTIVITY = "activity"   # another Task was logged on the Lead after the hand-off


@dataclass(frozen=True)
class BusinessHours:
    """When the SLA clock runs: ``days`` (0 = Monday) from ``start`` to ``end`` (minutes
    after local midnight) in ``timezone`` (the routing time zone)."""

    days: frozenset[int]
    start_minute: int
    end_minute: int
    timezone: str = "UTC"


@dataclass(frozen=True)
class LifecycleRules:
    """The parsed ``[lifecycle]`` table (owners' Ids filled in at the start of a pass)."""

    sla_seconds: int
    sales_ready_status: str
    touched_when: frozenset[Touch] = frozenset(Touch)
    on_breach: OnBreach = OnBreach.BOTH
    pool: tuple[OwnerRef, ...] = ()
    max_reassignments: int = 2
    escalate_to: OwnerRef | None = None
    business_hours: BusinessHours | None = None
    recycled_status: str | None = None
    recycle_reason_field: str | None = None
    recycle_date_field: str | None = None
    recycle_delay_seconds: int = 90 * 86400
    recycle_owner: OwnerRef | None = None
    nurture_status: str | None = None
    watch_seconds: int = 30 * 86400   # how long a touched hand-off is still read for recycling
    timezone: str = "UTC"

    @property
    def recycles(self) -> bool:
        return self.recycled_status is not None

    @property
    def reassigns(self) -> bool:
        return self.on_breach in (OnBreach.REASSIGN, OnBreach.BOTH) and bool(self.pool)

    @property
    def escalates(self) -> bool:
        return self.on_breach in (OnBreach.ESCALATE, OnBreach.BOTH) and self.escalate_to is not None

    def owners(self) -> list[tuple[str, OwnerRef]]:
        """Every owner the section names, with the key a problem with it names."""
        found = [(f"lifecycle.pool[{i}]", ref) for i, ref in enumerate(self.pool)]
        if self.escalate_to is not None:
            found.append(("lifecycle.escalate_to", self.escalate_to))
        if self.recycle_owner is not None:
            found.append(("lifecycle.recycle_owner", self.recycle_owner))
        return found
