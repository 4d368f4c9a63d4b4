"""Decisions -> the writes Salesforce must make, and the words an admin reads in --dry-run.

Pure. The campaign memberships are settled here: a response whose person is already a
member of the form's campaign (in Salesforce, or through an earlier response of this run)
writes no second CampaignMember, which is the ``DUPLICATE_VALUE: Already a campaign member``
that home-grown connectors keep failing on. A membership that has not responded yet (e.g.
"Sent" from an email send) is moved to the form's status; one that already responded is
left alone, so a repeat fill never downgrades "Attended" to "Responded".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from connector.core.enrich.scoring import Score
from connector.core.model import Action, Decision, Enrichment, MemberAction, Target
from connector.core.progression import Ladder, furthest, moves


@dataclass(frozen=True)
class ExistingMember:
    id: str
    status: str
    has_responded: bool


@dataclass(frozen=True)
class LeadWrite:
    conversion_id: str
    fields: Mapping[str, Any]
    # Not created: routing's owner for it is unusable this run (``Routing.unusable``); the
    # response is parked with this reason (config key and why) and ``retry`` creates it later.
    paused: str = ""


@dataclass(frozen=True)
class ContactWrite:
    """A new Contact on a matched Account (unique, ``[accounts] new_person = "contact"``)."""

    conversion_id: str
    fields: Mapping[str, Any]


@dataclass
class RecordUpdate:
    """Field changes to one existing Lead or Contact, gathered from every response of the
    batch that attaches to it, so a record is written once per batch."""

    sobject: str
    id: str
    fields: dict[str, Any] = field(default_factory=dict)
    conversion_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TaskWrite:
    """A follow-up Task for a sales-ready response; ``who`` may be a record this batch creates."""

    conversion_id: str
    fields: Mapping[str, Any]
    who: Target


@dataclass(frozen=True)
class MemberWrite:
    conversion_id: str
    campaign_id: str
    target: Target
    status: str


@dataclass(frozen=True)
class MemberUpdate:
    conversion_id: str
    member_id: str
    status: str


@dataclass(frozen=True)
class Step:
    """One response's line in the plan."""

    decision: Decision
    member: MemberAction
    member_id: str | None = None
    member_note: str = ""
    via: str | None = None   # the response of this run whose membership this one shares
    changes: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)  # field -> (before, after)
    notes: tuple[str, ...] = ()   # owner, stage, task, matched account: one line each
    enrichment: Enrichment = field(default_factory=Enrichment)          # the same, for the ledger


@dataclass
class WritePlan:
    steps: list[Step] = field(default_factory=list)
    leads: list[LeadWrite] = field(default_factory=list)
    contacts: list[ContactWrite] = field(default_factory=list)
    members: list[MemberWrite] = field(default_factory=list)
    member_updates: list[MemberUpdate] = field(default_factory=list)
    updates: list[RecordUpdate] = field(default_factory=list)
    tasks: list[TaskWrite] = field(default_factory=list)
    scores: dict[str, Score] = field(default_factory=dict)   # conversion id -> [scoring] Score


def member_key(campaign_id: str, target: Target) -> tuple[str, str]:
    return campaign_id, (target.id or f"new:{target.new_lead_of}")


def plan_batch(decisions: Iterable[Decision], existing: Mapping[tuple[str, str], ExistingMember],
               planned: dict[tuple[str, str], str],
               ladders: Mapping[str, Ladder] | None = None) -> WritePlan:
    """Turn a batch's decisions into writes.

    ``existing`` holds the CampaignMembers Salesforce has for the batch's campaigns and
    records, keyed by (CampaignId, LeadId or ContactId). ``planned`` is the run's memory of
    memberships already written or planned, (campaign, record key) -> conversion id; it is
    updated in place so the next batch sees this one's.

    ``ladders`` (campaign id -> :class:`~connector.core.progression.Ladder`) holds the
    campaigns whose statuses progress (events): there a member moves only forward, and two
    responses of one person in a batch write the membership once, at the furthest status.
    """
    plan = WritePlan()
    ladders = ladders or {}
    new_members: dict[str, int] = {}       # conversion id -> its MemberWrite in plan.members
    moved: dict[str, int] = {}             # member id -> its MemberUpdate in plan.member_updates
    for decision in decisions:
        response, target = decision.response, decision.target
        if decision.action is Action.FAILED or response is None or target is None:
            plan.steps.append(Step(decision, MemberAction.NONE))
            continue
        if decision.action is Action.CREATE_LEAD and target.id is None:
            plan.leads.append(LeadWrite(decision.conversion_id, dict(response.lead_fields)))
        elif decision.action is Action.CREATE_CONTACT and target.id is None:
            plan.contacts.append(ContactWrite(decision.conversion_id, dict(response.contact_fields)))
        keys = {member_key(response.campaign_id, target)}
        if target.id and target.new_lead_of:
            keys.add(member_key(response.campaign_id, Target(target.sobject, None, target.new_lead_of)))
        found = existing.get((response.campaign_id, target.id)) if target.id else None
        earlier = next((planned[k] for k in keys if k in planned), None)
        ladder = ladders.get(response.campaign_id)
        if found is not None:
            status, responded = found.status, found.has_responded
            if found.id in moved:          # an earlier response of this batch moves it already
                status = plan.member_updates[moved[found.id]].status
                responded = bool(ladder and ladder.responded.get(status, responded))
            if moves(ladder, status, responded, response.member_status):
                update = MemberUpdate(decision.conversion_id, found.id, response.member_status)
                if found.id in moved:      # one write, at the furthest status
                    plan.member_updates[moved[found.id]] = update
                else:
                    moved[found.id] = len(plan.member_updates)
                    plan.member_updates.append(update)
                plan.steps.append(Step(decision, MemberAction.UPDATE, found.id,
                                       f"member status {status} -> {response.member_status}"))
            else:
                plan.steps.append(Step(decision, MemberAction.EXISTS, found.id,
                                       f"already a member ({status})"))
        elif earlier is not None:
            note = f"already a member through response {earlier} of this run"
            if ladder is not None and earlier in new_members:
                write = plan.members[new_members[earlier]]
                status = furthest(ladder, write.status, response.member_status)
                if status != write.status:
                    plan.members[new_members[earlier]] = MemberWrite(
                        write.conversion_id, write.campaign_id, write.target, status)
                    note = f"joins as {status} with response {earlier} of this run"
            plan.steps.append(Step(decision, MemberAction.EXISTS, None, note, via=earlier))
        else:
            new_members[decision.conversion_id] = len(plan.members)
            plan.members.append(MemberWrite(decision.conversion_id, response.campaign_id, target,
                                            response.member_status))
            plan.steps.append(Step(decision, MemberAction.CREATE))
        for key in keys:
            planned.setdefault(key, decision.conversion_id)
    return plan


# -- rendering -----------------------------------------------------------------------------


