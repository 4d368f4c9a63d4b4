"""Routing and hand-off: who owns a new Lead, which stage it is at, and the rep's Task.

Seed 002 (points 3 and 4): when a response makes a person sales-ready, get the Lead to the
right rep or queue, mark the stage in Lead Status with the date of the change, and give the
owner a follow-up Task that carries the moments that made this a lead. This room decides all
of that from plain data; the engine looks owner names up once per run, writes the fields and
creates the Task. Nothing here reads a clock, a file or the network, so every rule is a table
test.

Salesforce facts that shape it (see the README's references):

- ``Sforce-Auto-Assign`` runs the org's active assignment rules on Lead create *and update*
  unless it says FALSE. ``mode = "assignment_rules"`` hands ownership to Salesforce (the
  engine sends TRUE on creates); any other mode sends FALSE and, under ``rules``, writes
  ``OwnerId`` itself. The two are never mixed: a rule table would be overwritten silently.
- A queue (a ``Group`` of Type Queue, Id prefix ``00G``) may own Leads, not Tasks: a Task's
  ``OwnerId`` must be a User (``005``). A sales-ready Lead routed to a queue gets its Task
  owned by ``[routing.tasks] owner`` when set, else by whoever creates it (the integration
  user).
- Task ``ActivityDate`` is a date without a time ("Due Date Only"); the exact due time goes in
  ``ReminderDateTime`` with ``IsReminderSet``. Lead ``Status`` is a picklist the reps also
  use, so leadsync only moves it *up* between the two statuses it is configured with.
- A Task has no natural key (a Lead has its email, a CampaignMember its campaign and
  record): only the response's conversion id in a custom Task field tells a replayed write
  from a new one. ``task_key`` reads from the org's describe whether that field is there and
  whether it is an External ID (upsert) or a plain field (looked up on replay).

The rules live by concept: ``owners`` (who owns the Lead), ``stages`` (its Lead Status),
``tasks`` (the rep's Task); this module holds what they share: the parsed :class:`Routing`
and the :class:`RoutingFacts` of one response. ``[routing]`` is parsed by
``connector.config.routing``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from connector.core.domains import email_domain
from connector.core.enrich.owners import OwnerChoice, OwnerRef, OwnerRule, Places
from connector.core.enrich.stages import Stages
from connector.core.model import Response
from connector.core.normalise import NOT_PROVIDED

if TYPE_CHECKING:
    # tasks.py reads facts_from from here at import time: importing it back would be a cycle.
    from connector.core.enrich.tasks import TaskRule

MODES = ("rules", "assignment_rules", "none")
# [routing.tasks] max_age: a response older than this gets no Task and no stage change. A
# backlog (a first sync, a backfill, a daemon that was down for a week) is history, not a
# hand-off: a rep given a "call within 4h" Task for a fill from last spring, or a Lead moved
# to sales-ready for it, is a false alarm that teaches reps to ignore the real ones.
DEFAULT_MAX_AGE = 7 * 86400


@dataclass(frozen=True)
class Routing:
    """The parsed ``[routing]`` table. ``Routing()`` is "routing off"."""

    mode: str = "none"
    rules: tuple[OwnerRule, ...] = ()
    default_owner: OwnerRef | None = None
    score_field: str | None = None
    stages: Stages | None = None
    tasks: TaskRule | None = None
    timezone: str = "UTC"            # for dates: the Task's ActivityDate, the stage's date
    places: Places = Places()
    max_age_seconds: int = DEFAULT_MAX_AGE   # [routing.tasks] max_age
    # Streams whose every response is sales-ready, stages or not (meetings booked).
    sales_ready_streams: frozenset[str] = frozenset()
    # This run's owners the org cannot give a Lead to (no such active User or Queue) with
    # nothing to fall back to: owner key -> why. A Lead routed to one is parked, not created
    # (``owners.with_owner_ids_or_default``; ``owners.route`` says so in ``paused``).
    unusable: Mapping[str, str] = field(default_factory=dict, hash=False)   # (Routing hashes)

    def too_old(self, submitted_at_ms: int, now_ms: int) -> bool:
        """Past ``max_age`` at ``now_ms`` (no clock known, ``now_ms`` 0: never too old)."""
        return now_ms > 0 and now_ms - submitted_at_ms > self.max_age_seconds * 1000

    def age_note(self, submitted_at_ms: int, now_ms: int) -> str:
        """Why an old response gets no hand-off, in the dry run's words."""
        days = (now_ms - submitted_at_ms) // 86_400_000
        limit = self.max_age_seconds
        shown = f"{limit // 86400}d" if limit % 86400 == 0 else f"{limit}s"
        what = "no Task" if self.tasks is not None else "no stage change"
        rest = "; no stage change either" if self.tasks is not None and self.stages else ""
        return f"{what}: the response is {days} days old, past max_age ({shown}){rest}"

    @property
    def auto_assign(self) -> bool:
        """The value of ``Sforce-Auto-Assign`` on Lead creates."""
        return self.mode == "assignment_rules"


@dataclass(frozen=True)
class RoutingFacts:
    """What routing may look at for one response, as the response gave it."""

    form_id: str
    email: str
    country: str | None = None
    state: str | None = None
    company: str | None = None
    score: float | None = None

    @property
    def domain(self) -> str:
        """The email's domain, read as account matching reads it (``core.domains``)."""
        return email_domain(self.email)


def facts_from(response: Response, score_field: str | None, *, score: float | None = None
               ) -> RoutingFacts:
    """What a response tells routing: Lead fields first, the raw form values as a fallback.
    ``score``: leadsync's own ([scoring]), which takes the place of a form field's.

    The mapping writes ``[not provided]`` for a missing Company; that is no company, so it
    must not match a company rule.
    """
    def pick(lead_field: str, form_field: str) -> str | None:
        value = response.lead_fields.get(lead_field) or response.form_values.get(form_field)
        value = (value or "").strip()
        return value if value and value != NOT_PROVIDED else None

    if score is None and score_field:
        score = parse_score(response.form_values.get(score_field.lower()))
    return RoutingFacts(response.form_id, response.email, pick("Country", "country"),
                        pick("State", "state"), pick("Company", "company"), score)


def parse_score(text: str | None) -> float | None:
    """A score from a form value; anything that is not a finite number is no score."""
    if text is None:
        return None
    try:
        value = float(str(text).strip())
    except ValueError:
        return None
    return value if value == value and value not in (float("inf"), float("-inf")) else None


def describe_routing(choice: OwnerChoice | None, stage: str | None,
                     task: Mapping[str, Any] | None) -> str:
    """One line for --dry-run: owner and why, stage, and the Task's due time."""
    parts = []
    if choice is not None:
        parts.append(f"owner {choice.owner or choice.owner_id} by {choice.why}")
    if stage is not None:
        parts.append(f"stage {stage.replace('_', '-')}")
    if task is not None:
        parts.append(f"task ({task.get('Priority')}) due {task.get('ActivityDate')}, "
                     f"reminder {task.get('ReminderDateTime')}")
    return "; ".join(parts)
