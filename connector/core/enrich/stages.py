"""The stage of a Lead: which Lead Status a response earns, and the date of the change. (pure)

``[routing.stages]`` names two statuses: nurture and sales-ready. A response is sales-ready
by its form or its score; Lead Status is a picklist the reps also use, so leadsync only
moves it *up* between the two statuses it is configured with, and stamps the date field
with the submission's time (never the run's clock, so a replay writes the same value).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from connector.core.timefmt import iso_z, local_date, utc

if TYPE_CHECKING:
    from connector.core.enrich.routing import Routing, RoutingFacts

NURTURE = "nurture"
SALES_READY = "sales_ready"
DATE_TYPES = ("date", "datetime")


@dataclass(frozen=True)
class Stages:
    """``[routing.stages]``: Lead Status per stage and what makes a response sales-ready."""

    sales_ready: str
    nurture: str | None = None
    date_field: str | None = None
    date_type: str = "date"
    sales_ready_forms: frozenset[str] = frozenset()
    sales_ready_score: float | None = None


def stage_for(routing: Routing, facts: RoutingFacts) -> str | None:
    """"sales_ready" when the form is a sales-ready one or the score reaches the threshold,
    else "nurture"; None when stages are not configured."""
    stages = routing.stages
    if facts.form_id in routing.sales_ready_streams:   # a meeting booked: the strongest hand-raise
        return SALES_READY
    if stages is None:
        return None
    if facts.form_id in stages.sales_ready_forms:
        return SALES_READY
    if stages.sales_ready_score is not None and facts.score is not None \
            and facts.score >= stages.sales_ready_score:
        return SALES_READY
    return NURTURE


def status_change(routing: Routing, stage: str | None, current_status: str | None) -> str | None:
    """The Lead Status to write, or None to leave it.

    A new Lead (``current_status`` None) or a blank one gets its stage's status. An existing
    Lead only moves up, from the nurture status to the sales-ready one. Any other status is a
    rep's ("Working", "Unqualified") or already sales-ready: never touched, never downgraded.
    """
    stages = routing.stages
    if stages is None or stage is None:
        return None
    target = stages.sales_ready if stage == SALES_READY else stages.nurture
    if target is None:
        return None
    current = (current_status or "").strip()
    if not current:
        return target
    if stage == SALES_READY and stages.nurture and current.casefold() == stages.nurture.casefold():
        return target
    return None


def status_fields(routing: Routing, stage: str | None, current_status: str | None, *,
                  changed_at_ms: int) -> dict[str, str]:
    """The Lead fields for a stage change: Status and, when configured, the date stamp.

    ``changed_at_ms`` is the submission time of the response that caused the change (not the
    run's clock), so a replay writes the same value and the date says when the person became
    sales-ready, even if the sync ran late.
    """
    new_status = status_change(routing, stage, current_status)
    if new_status is None:
        return {}
    fields = {"Status": new_status}
    stages = routing.stages
    if stages is not None and stages.date_field:
        moment = utc(changed_at_ms)
        fields[stages.date_field] = (iso_z(moment) if stages.date_type == "datetime"
                                     else local_date(moment, routing.timezone))
    return fields
