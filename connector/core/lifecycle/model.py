"""The plain data of the lifecycle pass: a watched hand-off, what Salesforce says of its
Lead, and what the pass decides. (pure)"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum


class WatchState(StrEnum):
    OPEN = "open"               # handed off, SLA clock running
    TOUCHED = "touched"         # sales acted; still read for a while (a rep may recycle it)
    ESCALATED = "escalated"     # breached past the reassignments: escalated, no longer timed
    EXHAUSTED = "exhausted"     # breached with nothing left to do (no pool member, no escalation)
    RECYCLED = "recycled"       # back with marketing until its come-back date
    CAME_BACK = "came_back"     # routed again on its date, not sales-ready: nurture goes on
    CONVERTED = "converted"     # the Lead was converted: a customer-side record now
    GONE = "gone"               # the Lead no longer exists (deleted or merged away)
    EXPIRED = "expired"         # touched long enough ago that leadsync stops reading it

    @property
    def read(self) -> bool:
        """Whether a pass reads this watch's Lead from Salesforce."""
        return self in LIVE


# Watches a pass reads (a recycled one only once its come-back date has come).
LIVE = frozenset({WatchState.OPEN, WatchState.TOUCHED, WatchState.ESCALATED, WatchState.EXHAUSTED,
                  WatchState.CAME_BACK, WatchState.RECYCLED})


class Kind(StrEnum):
    LEAVE = "leave"             # nothing to do (within the SLA, or waiting for its date)
    TOUCHED = "touched"         # first touch seen: the watch stops timing
    REASSIGN = "reassign"
    ESCALATE = "escalate"
    EXHAUSTED = "exhausted"
    RECYCLE = "recycle"
    COME_BACK = "come_back"
    CLOSE = "close"             # converted, gone, or watched long enough

    @property
    def writes(self) -> bool:
        return self in (Kind.REASSIGN, Kind.ESCALATE, Kind.RECYCLE, Kind.COME_BACK)


@dataclass(frozen=True)
class Watch:
    """One watched hand-off, as the state keeps it."""

    lead_id: str
    email: str
    owner_id: str | None
    task_id: str | None            # the follow-up Task the hand-off created
    handed_off_ms: int             # the first hand-off: time to first touch counts from here
    clock_ms: int                  # the SLA clock's start: restarts at each reassignment
    state: WatchState = WatchState.OPEN
    reassignments: int = 0
    form_id: str | None = None     # the form of the response that handed it off
    touched_ms: int | None = None
    within_sla: bool | None = None
    recycled_ms: int | None = None
    come_back_ms: int | None = None
    first_owner_id: str | None = None


@dataclass(frozen=True)
class TaskFacts:
    id: str
    closed: bool
    owner_id: str | None
    created_ms: int
    modified_ms: int


@dataclass(frozen=True)
class LeadFacts:
    """A watched Lead as one read of Salesforce found it."""

    id: str
    owner_id: str | None
    owner_name: str | None
    status: str | None
    owner_email: str | None = None
    converted: bool = False
    modified_ms: int = 0
    country: str | None = None
    state: str | None = None
    company: str | None = None
    recycle_reason: str | None = None
    come_back_date: str | None = None     # the rep's date field, YYYY-MM-DD
    tasks: tuple[TaskFacts, ...] = ()


@dataclass(frozen=True)
class PoolMember:
    id: str
    name: str
    active: bool = True


@dataclass(frozen=True)
class NewTask:
    """A Task the pass creates (an escalation, a come-back hand-off)."""

    subject: str
    description: str
    owner_id: str | None
    due_date: str
    priority: str = "High"


@dataclass(frozen=True)
class Verdict:
    """What the pass does about one watch, why (in an admin's words), and the watch after."""

    kind: Kind
    lead_id: str
    reason: str
    watch: Watch                          # the watch once the action is done
    owner_id: str | None = None           # the Lead's new owner
    from_owner_id: str | None = None
    status: str | None = None             # the Lead's new Status
    move_tasks: tuple[str, ...] = ()      # open Tasks that follow the Lead to its new owner
    task_owner_id: str | None = None
    new_task: NewTask | None = None
    rotation: int | None = None           # the pool's position after a reassignment
    stage: str | None = None              # the person's lifecycle stage after the action
    notes: tuple[str, ...] = field(default=())


def closed(watch: Watch, state: WatchState) -> Watch:
    return replace(watch, state=state)
