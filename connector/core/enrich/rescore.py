"""The daily rescore: everyone's score again as of today, for decay without new responses. (pure)

Behaviour points decay, so a person's score changes with no response at all. The rescore
computes each person's score as of the run's moment from their history, and plans:

- a write of the score fields for each person whose score *changed* (whole points: the
  number on the record), none for the others, so 100,000 people with 5% changed cost the
  Salesforce calls of 5,000 records;
- a **promotion** for each person who now reaches ``sales_ready`` and did not before: the
  hand-off a sales-ready form gives (Lead Status up from nurture, its date, a Lead still in a
  queue to the routed owner, the rep's Task listing the score's reasons and the responses);
  a Lead a rep is working (any other status) keeps its status and owner;
- a **drop** below ``sales_ready`` is only reported, never acted on, unless ``demote`` says
  so; even then only a Lead at leadsync's own sales-ready status goes back to nurture.

Each changed person also yields a :class:`ScoreRow` (email, record, score, changed): what a
HubSpot write-back of ``leadsync_score`` needs, typed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Iterable, Mapping, Sequence

from connector.core.enrich.owners import reassign_existing, route
from connector.core.enrich.routing import Routing, RoutingFacts
from connector.core.enrich.scoring import Event, Score, Scoring, crossing, describe, score, score_fields
from connector.core.enrich.stages import SALES_READY, status_fields
from connector.core.enrich.tasks import DESCRIPTION_MAX, SUBJECT_MAX
from connector.core.ids import is_user_id
from connector.core.normalise import NOT_PROVIDED
from connector.core.timefmt import iso_z, local_date, local_when, utc

HANDOFF_NAMESPACE = uuid.UUID("6f1c2a9e-3b7d-4c41-9a53-2d0e8b7f4c10")   # task keys: uuid5 in this
HISTORY_SHOWN = 20


@dataclass(frozen=True)
class Person:
    """Someone in the ledger: their record and the score last written there."""

    email: str
    sobject: str
    record_id: str
    stored: int | None = None        # None: never scored
    stored_as_of: int = 0
    fit_values: Mapping[str, str] = field(default_factory=dict)
    stored_ready: bool | None = None  # sales-ready under the rules it was scored by


@dataclass(frozen=True)
class ScoreRow:
    """Per person, what a write-back of the score to HubSpot (``leadsync_score``) needs."""

    email: str
    record_id: str
    sobject: str
    score: int
    changed: bool


@dataclass(frozen=True)
class Rescored:
    person: Person
    score: Score
    changed: bool
    crossing: str | None             # "up", "down" or None

    @property
    def row(self) -> ScoreRow:
        p = self.person
        return ScoreRow(p.email, p.record_id, p.sobject, self.score.value, self.changed)

    @property
    def handoff_key(self) -> str:
        """The same for every attempt at this promotion (it names the score it replaces), so
        a rerun after a kill resumes the hand-off instead of starting a second one."""
        p = self.person
        return f"{p.email}|{p.record_id}|{p.stored}|{p.stored_as_of}"

    @property
    def task_key(self) -> str:
        """A UUID from the hand-off key: the Task's response-id value (36 characters, as a
        conversion id), so the org's upsert or lookup keeps it to one Task."""
        return str(uuid.uuid5(HANDOFF_NAMESPACE, self.handoff_key))


def rescore(scoring: Scoring, people: Iterable[Person], events: Mapping[str, Sequence[Event]],
            now_ms: int) -> list[Rescored]:
    """Everyone's score as of ``now_ms``, with whether it changed and which way it crossed."""
    return [rescore_one(scoring, p, events.get(p.email, ()), now_ms) for p in people]


def rescore_one(scoring: Scoring, p: Person, events: Sequence[Event], now_ms: int) -> Rescored:
    """One person's score as of ``now_ms``, against what is stored for them."""
    result = score(scoring, email=p.email, events=events, fit_values=p.fit_values, as_of=now_ms)
    changed = p.stored is None or p.stored != result.value
    return Rescored(p, result, changed, crossing(scoring, p.stored, result, was_ready=p.stored_ready))


@dataclass(frozen=True)
class Handoff:
    """What a promotion (or, with ``demote``, a drop) writes on top of the score's fields."""

    key: str
    email: str
    record_id: str
    sobject: str
    fields: Mapping[str, Any]        # Status, its date, OwnerId
    task: Mapping[str, Any] | None
    note: str


def promotion(item: Rescored, *, scoring: Scoring, routing: Routing, record: Mapping[str, Any],
              history: Sequence[tuple[int, str]], now_ms: int, task_key_field: str | None
              ) -> Handoff | None:
    """The hand-off of a person crossing up, given their record as Salesforce holds it now.

    As in a sync: a Lead's status moves up only from nurture (or blank); a Lead in a queue
    goes to the routed owner; the Task goes to the Lead's owner (a queue cannot own one, so
    then ``[routing.tasks] owner``). A Lead a rep is working, or a Contact, keeps its status
    and owner, and gets no Task: nothing happened to it but the passing of time.
    """
    p = item.person
    if p.sobject != "Lead" or routing.stages is None:
        return None
    changes = status_fields(routing, SALES_READY, record.get("Status"), changed_at_ms=now_ms)
    if "Status" not in changes:
        return None                                 # a rep's Lead: reported, not touched
    facts = RoutingFacts(form_id="", email=p.email, country=_text(record.get("Country")),
                         state=_text(record.get("State")), company=_text(record.get("Company")),
                         score=item.score.total)
    owner = reassign_existing(route(routing, facts), record.get("OwnerId"),
                              became_sales_ready=True)
    fields: dict[str, Any] = dict(changes)
    if owner and owner != record.get("OwnerId"):
        fields["OwnerId"] = owner
    task = _task(item, routing=routing, owner=fields.get("OwnerId") or record.get("OwnerId"),
                 history=history, now_ms=now_ms, key_field=task_key_field)
    return Handoff(item.handoff_key, p.email, p.record_id, p.sobject, fields, task,
                   f"promoted: {record.get('Status') or 'blank'} -> {changes['Status']}")


def demotion(item: Rescored, *, routing: Routing, record: Mapping[str, Any]) -> Handoff | None:
    """With ``demote = true``: a Lead at leadsync's sales-ready status back to nurture."""
    stages = routing.stages
    p = item.person
    if (p.sobject != "Lead" or stages is None or stages.nurture is None
            or (record.get("Status") or "").casefold() != stages.sales_ready.casefold()):
        return None
    return Handoff(item.handoff_key, p.email, p.record_id, p.sobject,
                   {"Status": stages.nurture}, None,
                   f"demoted: {stages.sales_ready} -> {stages.nurture}")


def score_update(item: Rescored, scoring: Scoring, *, zone: str) -> dict[str, Any]:
    """The record fields of a changed score (its value, the date, the reasons)."""
    date = local_date(utc(item.score.as_of), zone)
    return score_fields(scoring, item.person.sobject, item.score, date=date)


def _task(item: Rescored, *, routing: Routing, owner: str | None,
          history: Sequence[tuple[int, str]], now_ms: int, key_field: str | None
          ) -> dict[str, Any] | None:
    tasks = routing.tasks
    if tasks is None:
        return None
    due = utc(now_ms) + timedelta(seconds=tasks.sla_seconds)
    zone = routing.timezone
    subject = f"Follow up: {item.person.email} reached score {item.score.value}"
    lines = [f"{item.person.email} became sales-ready by score on "
             f"{local_when(utc(now_ms), zone)} (no new response: the daily rescore).",
             f"Follow up by {local_when(due, zone)}.", "", *describe(item.score), "",
             "Responses:" if history else "Responses: none recorded."]
    shown = sorted(history)[-HISTORY_SHOWN:]
    if len(history) > len(shown):
        lines.append(f"  ... {len(history) - len(shown)} older ones not listed")
    lines += [f"  {local_when(utc(ms), zone)}  {name}" for ms, name in shown]
    text = "\n".join(lines)
    task: dict[str, Any] = {
        "Subject": subject if len(subject) <= SUBJECT_MAX else subject[:SUBJECT_MAX - 1] + "…",
        "Description": text if len(text) <= DESCRIPTION_MAX else text[:DESCRIPTION_MAX - 1] + "…",
        "WhoId": item.person.record_id,
        "ActivityDate": local_date(due, zone),
        "ReminderDateTime": iso_z(due),
        "IsReminderSet": True,
        "Priority": tasks.priority,
        "Status": "Not Started",
    }
    if owner and is_user_id(owner):
        task["OwnerId"] = owner
    elif tasks.owner is not None and tasks.owner.id:
        task["OwnerId"] = tasks.owner.id
    if key_field:
        task[key_field] = item.task_key
    return task


def _text(value: Any) -> str | None:
    text = (str(value) if value is not None else "").strip()
    return text if text and text != NOT_PROVIDED else None


def tally(total: dict[str, int], item: Rescored) -> None:
    """Add one person to the counts of :func:`counts` (for a rescore that streams)."""
    total["people"] = total.get("people", 0) + 1
    for key, hit in (("changed", item.changed), ("up", item.crossing == "up"),
                     ("down", item.crossing == "down")):
        total[key] = total.get(key, 0) + int(hit)


def counts(items: Sequence[Rescored]) -> dict[str, int]:
    """What a rescore (or its dry run) found: people, changed, crossing up, crossing down
    (a change of rules can make a person cross with the same number)."""
    return {"people": len(items), "changed": sum(1 for i in items if i.changed),
            "up": sum(1 for i in items if i.crossing == "up"),
            "down": sum(1 for i in items if i.crossing == "down")}

