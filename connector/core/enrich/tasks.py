"""The rep's follow-up Task for a sales-ready response, and keeping it to one Task. (pure)

Task ``ActivityDate`` is a date without a time ("Due Date Only"); the exact due time goes in
``ReminderDateTime`` with ``IsReminderSet``. A queue may own Leads, not Tasks: a Task's
``OwnerId`` must be a User. A Task has no natural key, so only the response's conversion id
in a custom Task field tells a replayed write from a new one (:func:`task_key`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from connector.core.enrich.owners import OwnerRef, score_text
from connector.core.enrich.routing import facts_from
from connector.core.enrich.stages import SALES_READY, stage_for
from connector.core.ids import is_user_id
from connector.core.model import Response
from connector.core.normalise import NOT_PROVIDED
from connector.core.timefmt import iso_z, local_date, local_when, utc

if TYPE_CHECKING:
    from connector.core.enrich.routing import Routing, RoutingFacts
    from connector.core.enrich.scoring import Score
    from connector.core.schema import ObjectSchema

SUBJECT_MAX = 255          # Task.Subject
DESCRIPTION_MAX = 32000    # Task.Description
HISTORY_SHOWN = 20         # earlier responses listed in a Task, newest kept
SUBJECT_FIELDS = ("form", "email", "name", "company", "score")
DEFAULT_SUBJECT = "Follow up: {form} from {email}"


@dataclass(frozen=True)
class TaskRule:
    """``[routing.tasks]``: the follow-up Task for a sales-ready response."""

    sla_seconds: int
    subject: str = DEFAULT_SUBJECT
    priority: str = "High"
    owner: OwnerRef | None = None  # a user, for Leads routed to a queue (queues cannot own Tasks)


def task_for(routing: Routing, *, response: Response, owner_id: str | None, who_id: str,
             form_name: str, history: Sequence[tuple[int, str]], now_ms: int,
             why: str = "", scored: "Score | None" = None,
             score_lines: Sequence[str] = ()) -> dict[str, Any] | None:
    """The follow-up Task's fields for a sales-ready response, or None.

    Due ``sla`` after the submission: ``ActivityDate`` is that moment's date in
    ``routing.timezone`` and ``ReminderDateTime`` the moment itself. When the sync runs after
    the due time (a backlog, a retry), the date stays honest (the Task shows overdue) and the
    reminder fires at ``now_ms`` instead of in the past, where nobody would see it.
    ``owner_id`` is the Lead's owner; a queue cannot own a Task, so then ``tasks.owner`` (or
    nobody: the creating user) takes it. ``history`` is the person's earlier responses as
    (submitted_at ms, form name). A response older than ``max_age`` at ``now_ms`` gets
    none: it is history, not a hand-off. ``scored`` is the person's ``[scoring]`` score (it
    replaces the form's score field, and reaching its threshold is sales-ready);
    ``score_lines`` its reasons, listed in the description.
    """
    tasks = routing.tasks
    if tasks is None or routing.too_old(response.submitted_at, now_ms):
        return None
    facts = (facts_from(response, routing.score_field) if scored is None
             else facts_from(response, None, score=scored.total))   # the score takes its place
    if stage_for(routing, facts) != SALES_READY and not (scored is not None and scored.ready):
        return None
    due = utc(response.submitted_at) + timedelta(seconds=tasks.sla_seconds)
    remind = max(due, utc(now_ms))
    task: dict[str, Any] = {
        "Subject": _subject(tasks.subject, response, facts, form_name),
        "Description": _description(response, form_name=form_name, history=history, due=due,
                                    now_ms=now_ms, why=why, zone=routing.timezone,
                                    score_lines=score_lines),
        "WhoId": who_id,
        "ActivityDate": local_date(due, routing.timezone),
        "ReminderDateTime": iso_z(remind),
        "IsReminderSet": True,
        "Priority": tasks.priority,
        "Status": "Not Started",
    }
    task_owner = _task_owner(tasks, owner_id)
    if task_owner:
        task["OwnerId"] = task_owner
    return task


def _task_owner(tasks: TaskRule, lead_owner_id: str | None) -> str | None:
    """The Lead's owner when a User; a queue cannot own a Task, so then ``tasks.owner``."""
    if lead_owner_id and is_user_id(lead_owner_id):
        return lead_owner_id
    return tasks.owner.id if tasks.owner is not None else None


# -- a Task written once: the response id on the Task ------------------------------------------

TASK_KEY_FIELD = "Leadsync_Response_Id__c"   # the Lead's external id name, unless configured
CONVERSION_ID_LENGTH = 36                     # a HubSpot conversion id is a UUID


@dataclass(frozen=True)
class TaskKey:
    """How a response's follow-up Task is kept to one, decided from the org's Task describe.

    A Task is an activity: unlike a Lead (found again by email or external id) or a
    CampaignMember (one per campaign and record), nothing tells a replayed write from a new
    one unless the Task carries the response's id. With ``field`` set every Task leadsync
    writes carries it; ``upsert`` (an External ID field) makes the write itself idempotent;
    ``lookup`` (a plain filterable field) lets a replayed response find its Task first.
    """

    field: str | None = None
    upsert: bool = False
    lookup: bool = False
    why: str = ""


def task_key(task: "ObjectSchema | None", configured: str | None = None) -> TaskKey:
    """The :class:`TaskKey` for an org whose Task describe is ``task``.

    The field is the one the Lead's external id uses (``lead_external_id_field``), else
    ``Leadsync_Response_Id__c``: one name for "this response" across the org. Without it, or
    where the integration user cannot write it, or where a conversion id does not fit (not
    text, shorter than a UUID), Tasks are written as before: plain creates.
    """
    name = configured or TASK_KEY_FIELD
    info = task.field(name) if task is not None else None
    if info is None:
        return TaskKey(why=f"Task has no field {name}")
    if not info.createable:
        return TaskKey(why=f"Task.{info.name} is read-only for the integration user")
    if info.type != "string" or (info.length and info.length < CONVERSION_ID_LENGTH):
        return TaskKey(why=f"Task.{info.name} is not a text field of {CONVERSION_ID_LENGTH}+ "
                           "characters")
    if info.external_id:
        return TaskKey(info.name, upsert=True, why=f"upsert on Task.{info.name} (External ID)")
    if info.filterable:
        return TaskKey(info.name, lookup=True,
                       why=f"Task.{info.name} is looked up for replayed responses")
    return TaskKey(info.name, why=f"Task.{info.name} is carried, but cannot be filtered on")


def tasks_found(rows: Iterable[Mapping[str, Any]], field_name: str) -> dict[str, str]:
    """Conversion id -> Task Id from a lookup's rows; the lowest Id when several carry one id
    (a stable choice: the ledger names the same Task on every replay)."""
    found: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: str(r.get("Id") or "")):
        key = str(row.get(field_name) or "").lower()
        if key and row.get("Id"):
            found.setdefault(key, str(row["Id"]))
    return found


def _subject(template: str, response: Response, facts: RoutingFacts, form_name: str) -> str:
    """The template filled in and cut to Task.Subject's length, so a long name cannot fail it."""
    score = score_text(facts.score) if facts.score is not None else ""
    values = {"form": form_name, "email": response.email, "name": _person_name(response),
              "company": facts.company or "", "score": score}
    text = " ".join(template.format(**values).split())
    return text if len(text) <= SUBJECT_MAX else text[:SUBJECT_MAX - 1] + "…"


def _person_name(response: Response) -> str:
    """First and last name as given; the email when both are missing or placeholders."""
    parts = [response.lead_fields.get("FirstName", ""), response.lead_fields.get("LastName", "")]
    name = " ".join(p.strip() for p in parts if p and p.strip() and p.strip() != NOT_PROVIDED)
    return name or response.email


def _description(response: Response, *, form_name: str, history: Sequence[tuple[int, str]],
                 due: datetime, now_ms: int, why: str, zone: str,
                 score_lines: Sequence[str] = ()) -> str:
    """What the rep needs before calling: this response, then the moments before it."""
    submitted = local_when(utc(response.submitted_at), zone)
    lines = [f"{form_name} submitted {submitted} by {response.email}."]
    if why:
        lines.append(f"Routed by {why}.")
    overdue = " (already past when leadsync synced it)" if due < utc(now_ms) else ""
    lines += [f"Follow up by {local_when(due, zone)}{overdue}."]
    if score_lines:
        lines += ["", *score_lines]
    lines += ["", "Form values:"]
    lines += [f"  {name}: {value}" for name, value in response.form_values.items()] or ["  (none)"]
    earlier = sorted(h for h in history if h[0] < response.submitted_at)
    lines += ["", "Earlier responses:" if earlier else "Earlier responses: none (first response)."]
    if len(earlier) > HISTORY_SHOWN:
        lines.append(f"  ... {len(earlier) - HISTORY_SHOWN} older ones not listed")
        earlier = earlier[-HISTORY_SHOWN:]
    lines += [f"  {local_when(utc(ms), zone)}  {name}" for ms, name in earlier]
    text = "\n".join(lines)
    return text if len(text) <= DESCRIPTION_MAX else text[:DESCRIPTION_MAX - 1] + "…"
