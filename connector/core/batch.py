"""One batch, decided whole: responses and what Salesforce holds -> the writes to make.

``decide_batch`` is the pure pipeline the engine runs for every batch, and the one a what-if
runs once per method over the same facts: resolve each person against the Leads and
Contacts found, match new people to Accounts, decide by the method (with the run's memory of
what earlier responses created), settle campaign memberships, then shape each write (fields
by the mapping's rules, owner, stage, follow-up Task). The engine gathers ``BatchFacts``
(``connector.engine.gather``) and applies the ``WritePlan``; it decides nothing itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

from connector.core.accounts import AccountMatch, AccountMatching, match_accounts
from connector.core.enrich.routing import Routing
from connector.core.enrich.scoring import (Event, Score, Scoring, fit_snapshot,
                                           merged_events, score)
from connector.core.enrich.shape import Shaping, shape
from connector.core.methods import RunMemory, decide_all, needs_account
from connector.core.model import Action, Decision, Match, MemberAction, Method, Record, Response, Submission
from connector.core.normalise import FieldMapping, to_response
from connector.core.progression import Ladder, thread_poi
from connector.core.plan import ExistingMember, Step, WritePlan, plan_batch
from connector.core.resolve import created_for, resolve, rows_to_records
from connector.core.schema import ObjectSchema
from connector.core.timefmt import parse_ms
from connector.errors import RecordError

Row = Mapping[str, Any]

# How much earlier than its intent a Lead's CreatedDate may read and still be the intent's
# own: Salesforce's clock and this machine's differ by seconds; a Lead someone else made
# before the lookup would have been found by it, and the response not decided a create.
REPLAY_CLOCK_SKEW_MS = 120_000


@dataclass(frozen=True)
class Landing:
    """Where a mapped stream's responses land: its campaign and the member status they get
    (an event's by the participation's state, ``Submission.kind``)."""

    campaign_id: str
    member_status: str
    statuses: Mapping[str, str] = field(default_factory=dict)   # kind -> member status

    def status_of(self, kind: str) -> str:
        return self.statuses.get(kind, self.member_status)


@dataclass(frozen=True)
class BatchPolicy:
    """What stays the same for every batch of a run: the configuration, with owner names
    already turned into Ids and the org's describe read (the engine's preparation)."""

    mapping: FieldMapping
    routing: Routing
    landings: Mapping[str, Landing]              # form id -> campaign and member status
    accounts: AccountMatching = field(default_factory=AccountMatching)
    external_id_field: str | None = None
    on_multiple_matches: str = "oldest"
    unique_prefers: str = "contact"
    schema: Mapping[str, ObjectSchema] | None = None
    form_names: Mapping[str, str] = field(default_factory=dict)
    ladders: Mapping[str, Ladder] = field(default_factory=dict)   # campaign id -> progression
    scoring: Scoring | None = None               # [scoring]: leadsync computes the score


@dataclass(frozen=True)
class People:
    """What Salesforce holds for the batch's emails, resolved by the configured tie-break."""

    matches: Mapping[str, Match] = field(default_factory=dict)
    recovered: Mapping[str, Record] = field(default_factory=dict)   # conversion id -> own record
    rows: Mapping[str, Row] = field(default_factory=dict)           # record id -> its fields
    # recovered Leads an earlier run made, counted then as created (its membership failed):
    # a retry that reuses one adds its membership, and its report creates no Lead
    counted: frozenset[str] = frozenset()


@dataclass(frozen=True)
class BatchFacts:
    """Everything a batch's decision needs from outside, read once by the engine."""

    responses: Sequence[Response]
    rejected: Sequence[Decision]                 # failed normalisation: parked with the reason
    order: Sequence[str]                         # conversion ids in submission order
    people: People = field(default_factory=People)
    account_rows: Sequence[Row] = ()             # Accounts the lookup terms found
    member_rows: Sequence[Row] = ()              # CampaignMembers of the campaigns and records
    history: Mapping[str, Sequence[tuple[int, str]]] = field(default_factory=dict)
    now_ms: int = 0
    score_events: Mapping[str, Sequence[Event]] = field(default_factory=dict)   # email -> stored
    score_fit: Mapping[str, Mapping[str, str]] = field(default_factory=dict)    # email -> fit values


def normalise_batch(batch: Sequence[Submission], policy: BatchPolicy
                    ) -> tuple[list[Response], list[Decision]]:
    """Submissions -> responses; one that cannot be read is a failed decision, the rest go on."""
    responses, rejected = [], []
    for sub in batch:
        landing = policy.landings[sub.form_id]   # only mapped forms are pulled
        try:
            responses.append(to_response(sub, policy.mapping, campaign_id=landing.campaign_id,
                                         member_status=landing.status_of(sub.kind),
                                         schema=policy.schema))
        except RecordError as exc:
            rejected.append(Decision(None, sub.conversion_id, Action.FAILED, None,
                                     exc.message, exc.code))
    return responses, rejected


def know_people(responses: Sequence[Response], lead_rows: Iterable[Row], contact_rows: Iterable[Row],
                policy: BatchPolicy, *, create_intents: Mapping[str, int] | None = None,
                contact_intents: Mapping[str, int] | None = None) -> People:
    """The lookups' rows as records, resolved per email; Leads an interrupted run created for
    this batch's responses are ``recovered``: found by the external id, or, without one, by
    :func:`replayed_creates` from the ledger's ``create_intents`` (conversion id -> when its
    pending ``create_lead`` intent was recorded, epoch ms); Contacts likewise from
    ``contact_intents`` (pending ``create_contact``: a new person at a matched Account)."""
    lead_rows, contact_rows = list(lead_rows), list(contact_rows)
    ext = policy.external_id_field
    leads, contacts = rows_to_records(lead_rows, contact_rows, external_id_field=ext)
    emails = {r.email for r in responses}
    matches = resolve(emails, leads, contacts, choose=policy.on_multiple_matches)
    batch_ids = {r.conversion_id for r in responses}
    recovered = {cid: rec for cid, rec in created_for(leads).items() if cid in batch_ids}
    if create_intents and not ext:
        recovered.update(replayed_creates(responses, leads, create_intents, recovered))
    if contact_intents:
        recovered.update(replayed_creates(responses, contacts, contact_intents, recovered))
    return People(matches, recovered, {row["Id"]: row for row in [*lead_rows, *contact_rows]})


def replayed_creates(responses: Sequence[Response], records: Iterable[Record],
                     intents: Mapping[str, int], recovered: Mapping[str, Record]
                     ) -> dict[str, Record]:
    """The Leads (or Contacts) a lost reply hid, told without an external id: conversion id
    -> its record (``records``: those of the kind the intents created).

    A reply lost on a Lead create (or a run killed after it) leaves the ledger's intent
    ``pending`` with ``create_lead``; the replay's lookup then finds the Lead by email and,
    left alone, records an attach, so the run said "attached" for a Lead it created. The
    response was decided a create because no Lead had its email at the lookup just before
    the intent, so an open Lead with that email created at or after the intent (less
    :data:`REPLAY_CLOCK_SKEW_MS`) is the one the lost write made. Claimed only when it is
    unambiguous: one pending create for the email in the batch, one such Lead, not claimed
    by another response; otherwise the response is decided afresh, as before.
    """
    pending: dict[str, list[Response]] = {}
    for r in responses:
        if r.conversion_id in intents and r.conversion_id not in recovered:
            pending.setdefault(r.email, []).append(r)
    claimed = {rec.id for rec in recovered.values()}
    out: dict[str, Record] = {}
    for email, creates in pending.items():
        if len(creates) != 1:
            continue
        since = intents[creates[0].conversion_id] - REPLAY_CLOCK_SKEW_MS
        made = [record for record in records if record.email == email
                and record.id not in claimed and (parse_ms(record.created) or 0) >= since]
        if len(made) == 1:
            out[creates[0].conversion_id] = made[0]
    return out


def with_parked_leads(people: People, parked: Mapping[str, str]) -> People:
    """Count as ``recovered`` the Leads that parked responses of this batch created before
    their membership was refused (the ledger's ``parked_leads``), when the lookup still
    finds them open: a retry attaches to that Lead instead of creating a second one, which
    under poi without an external id nothing else would prevent."""
    extra: dict[str, Record] = {}
    for conversion_id, lead_id in parked.items():
        row = people.rows.get(lead_id)
        leads = rows_to_records([row], [])[0] if row is not None else []
        if leads and conversion_id not in people.recovered:
            extra[conversion_id] = leads[0]
    return (replace(people, recovered={**people.recovered, **extra},
                    counted=people.counted | frozenset(extra)) if extra else people)


def account_seekers(responses: Sequence[Response], people: People, method: Method, *,
                    memory: RunMemory, settings: AccountMatching) -> dict[str, str | None]:
    """The people (email -> company) whose new record may belong to an Account: the ones
    the method will create a record for. Empty when account matching is off."""
    if not settings.enabled:
        return {}
    return {r.email: r.lead_fields.get("Company") for r in responses
            if needs_account(method, people.matches.get(r.email), r.email in memory.people)}


def decide_batch(facts: BatchFacts, method: Method, memory: RunMemory, *,
                 policy: BatchPolicy) -> WritePlan:
    """The whole pure batch pipeline; ``memory`` carries what earlier batches of the run
    created or planned and is updated with this batch's decisions."""
    if not facts.responses:
        return _in_order(WritePlan(), facts)
    seekers = account_seekers(facts.responses, facts.people, method, memory=memory,
                              settings=policy.accounts)
    accounts: dict[str, AccountMatch] = (match_accounts(seekers, facts.account_rows, policy.accounts)
                                         if seekers and facts.account_rows else {})
    decisions = decide_all(method, facts.responses, facts.people.matches, memory,
                           unique_prefers=policy.unique_prefers, recovered=facts.people.recovered,
                           accounts=accounts, new_person=policy.accounts.new_person)
    if method is Method.POI and policy.ladders:     # an event's states share the first's Lead
        decisions = thread_poi(decisions, facts.member_rows, facts.people.rows, policy.ladders)
    notes = {email: m.note for email, m in facts.people.matches.items() if m.note}
    decisions = [_with_note(d, notes.get(d.response.email if d.response else "", ""))
                 for d in decisions]
    plan = plan_batch(decisions, existing_members(facts.member_rows), memory.memberships,
                      policy.ladders)
    scores = score_batch(policy.scoring, facts) if policy.scoring is not None else {}
    plan = shape(plan, Shaping(policy.mapping, policy.routing, facts.people.rows, accounts,
                               policy.accounts.lead_field, policy.form_names, facts.history,
                               facts.now_ms, policy.schema, scores, policy.scoring))
    plan.scores = scores
    return _in_order(plan, facts)


def existing_members(rows: Iterable[Row]) -> dict[tuple[str, str], ExistingMember]:
    """CampaignMember rows keyed by (CampaignId, LeadId or ContactId)."""
    existing: dict[tuple[str, str], ExistingMember] = {}
    for row in rows:
        member = ExistingMember(row["Id"], row.get("Status") or "", bool(row.get("HasResponded")))
        for key in ("LeadId", "ContactId"):
            if row.get(key):
                existing[(row["CampaignId"], row[key])] = member
    return existing


def _in_order(plan: WritePlan, facts: BatchFacts) -> WritePlan:
    """The plan's steps, rejected responses included, in the batch's submission order."""
    order = {cid: i for i, cid in enumerate(facts.order)}
    plan.steps = sorted(plan.steps + [Step(d, MemberAction.NONE) for d in facts.rejected],
                        key=lambda step: order[step.decision.conversion_id])
    return plan


def _with_note(decision: Decision, note: str) -> Decision:
    if not note:
        return decision
    return replace(decision, reason=f"{decision.reason} ({note})")


def read_fields(policy: BatchPolicy, sobject: str) -> tuple[str, ...]:
    """Fields whose current values the mapping's rules and routing compare against."""
    fields = list(policy.mapping.read_fields(sobject)) + ["OwnerId"]
    stages = policy.routing.stages
    if sobject == "Lead" and stages is not None:
        fields += ["Status"] + ([stages.date_field] if stages.date_field else [])
    if policy.scoring is not None:
        fields += [f for f in policy.scoring.record_fields(sobject) if f not in fields]
    return tuple(fields)


def score_batch(scoring: Scoring, facts: BatchFacts) -> dict[str, Score]:
    """Each response's score as of its own submission (so a replay computes the same score):
    the person's stored responses and this batch's up to it, and fit from the response's
    fields, then the record's, then what earlier responses told. A person whose only
    response is this one (most of a sync) takes the shared sums of ``Program.fresh_score``; the
    loop is written for that case, since it runs for every response of a sync."""
    program = scoring.program
    fresh, event_of_response = program.fresh_score, program.event_of
    seen: dict[str, int] = {}
    for r in facts.responses:
        seen[r.email] = seen.get(r.email, 0) + 1
    own = [event_of_response(r) for r in facts.responses]
    batch_events: dict[str, list[Event]] = {}     # people with more than one in the batch
    for r, event in zip(facts.responses, own):
        if seen[r.email] > 1:
            batch_events.setdefault(r.email, []).append(event)
    out: dict[str, Score] = {}
    rows, matches = facts.people.rows, facts.people.matches
    stored_of, fit_of = facts.score_events, facts.score_fit
    for r, event in zip(facts.responses, own):
        email = r.email
        match = matches.get(email)
        lead = contact = None
        if match is not None:
            if match.lead is not None:
                lead = rows.get(match.lead.id)
            if match.contact is not None:
                contact = rows.get(match.contact.id)
        values = fit_snapshot(scoring, r.lead_fields, r.contact_fields, r.form_values, lead,
                              contact, fit_of.get(email))
        stored = stored_of.get(email)
        if not stored and seen[email] == 1:
            out[r.conversion_id] = fresh(scoring, email, event, values)
            continue
        events: Sequence[Event] = batch_events.get(email) or (event,)
        if stored:
            events = merged_events(stored, events)
        result = score(scoring, email=email, events=events, fit_values=values,
                       as_of=r.submitted_at)
        result.event = event            # what the state keeps of the response (made once)
        out[r.conversion_id] = result
    return out
