"""The response funnel, pure: ledger rows plus what the org says about their records ->
per group (campaign, form, owner or method) the steps from response to won deal, the rate
between each step and the median time each took, an account view, and a lead plan.

Kept pure so the counting rules are tested without an org and the command only gathers.
The rules, and why:

* **sales-ready** (an MQL): the response got a follow-up Task (the ledger's ``task_id``:
  leadsync writes one only when routing judged the response sales-ready), or its form is one
  of ``[routing.stages] sales_ready_forms``. The ledger keeps no score, so a response made
  sales-ready by ``sales_ready_score`` without a Task is not seen (Tasks are the usual
  signal; with ``[routing.tasks]`` every sales-ready response has one).
* **accepted**: a rep touched it: its Task is closed, or its Lead's Status moved off the
  configured sales-ready status (a converted Lead counts as touched).
* **converted**: the Lead's ``IsConverted``.
* **opportunities**: the converted Lead's ``ConvertedOpportunityId``, and Opportunities of the
  person's Account (ledger ``account_id``, the Contact's ``AccountId``, or the Lead's
  ``ConvertedAccountId``) created at or after the response. An Opportunity is counted once
  per group; one deal touched by two campaigns counts in both (multi-touch, no weighting).
* steps of people (sales-ready, accepted, converted) count distinct people (emails), so a
  person who filled three forms is one sales-ready lead, not three.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import median
from typing import Any, Iterable, Mapping, Sequence

BY_CHOICES = ("campaign", "form", "owner", "method")
STEPS = ("responses", "people", "sales_ready", "accepted", "converted", "opportunities", "won")
MIN_PEOPLE = 20          # no rate is planned from fewer people than this
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Response:
    """One ledger row, as the funnel reads it."""

    conversion_id: str
    form_id: str
    submitted_at: int                    # epoch ms
    email: str
    campaign_id: str
    action: str
    lead_id: str | None = None
    contact_id: str | None = None
    owner_id: str | None = None
    account_id: str | None = None
    task_id: str | None = None
    method: str | None = None


@dataclass(frozen=True)
class LeadFacts:
    id: str
    status: str | None = None
    is_converted: bool = False
    converted_ms: int | None = None
    account_id: str | None = None
    opportunity_id: str | None = None
    modified_ms: int | None = None


@dataclass(frozen=True)
class TaskFacts:
    id: str
    created_ms: int | None = None
    closed: bool = False
    modified_ms: int | None = None


@dataclass(frozen=True)
class Opportunity:
    id: str
    account_id: str | None
    created_ms: int
    amount: float = 0.0
    is_won: bool = False
    close_ms: int | None = None


@dataclass(frozen=True)
class Org:
    """What the org says about the ledger's records (read by the command, bounded)."""

    leads: Mapping[str, LeadFacts] = field(default_factory=dict)
    tasks: Mapping[str, TaskFacts] = field(default_factory=dict)
    contact_accounts: Mapping[str, str] = field(default_factory=dict)
    opportunities: Mapping[str, Opportunity] = field(default_factory=dict)
    account_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StageRule:
    """``[routing.stages]`` as the funnel needs it (both empty without stages)."""

    sales_ready_status: str | None = None
    sales_ready_forms: frozenset[str] = frozenset()


@dataclass
class _Person:
    """One person's furthest reach within one group (times in ms, earliest kept)."""

    sales_ready_ms: int | None = None
    accepted_ms: int | None = None
    converted_ms: int | None = None
    first_ms: int = 0


@dataclass
class FunnelRow:
    key: str
    name: str
    responses: int = 0
    people: int = 0
    new_leads: int = 0
    attached: int = 0
    new_contacts: int = 0
    sales_ready: int = 0
    accepted: int = 0
    converted: int = 0
    opportunities: int = 0
    won: int = 0
    won_amount: float = 0.0
    rates: dict[str, float | None] = field(default_factory=dict)
    median_hours: dict[str, float | None] = field(default_factory=dict)

    def count(self, step: str) -> int:
        return int(getattr(self, step))

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "responses": self.responses,
                "people": self.people, "new_leads": self.new_leads, "attached": self.attached,
                "sales_ready": self.sales_ready, "accepted": self.accepted,
                "converted": self.converted, "opportunities": self.opportunities,
                "won": self.won, "won_amount": round(self.won_amount, 2),
                "new_contacts": self.new_contacts, "rates": dict(self.rates),
                "median_hours": dict(self.median_hours)}


@dataclass
class AccountRow:
    account_id: str
    name: str
    people: int
    responses: int
    opportunities: int
    won: int
    won_amount: float

    def to_json(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "name": self.name, "people": self.people,
                "responses": self.responses, "opportunities": self.opportunities,
                "won": self.won, "won_amount": round(self.won_amount, 2)}


@dataclass
class Funnel:
    since: str
    by: str
    rows: list[FunnelRow]
    accounts: list[AccountRow]

    def to_json(self) -> dict[str, Any]:
        return {"since": self.since, "by": self.by, "rows": [r.to_json() for r in self.rows],
                "accounts": [a.to_json() for a in self.accounts]}


def group_key(response: Response, by: str) -> str:
    if by == "campaign":
        return response.campaign_id or ""
    if by == "form":
        return response.form_id or ""
    if by == "owner":
        return response.owner_id or ""
    if by == "method":
        return response.method or ""
    raise ValueError(f"--by is one of {', '.join(BY_CHOICES)}, not {by!r}")


def account_of(response: Response, org: Org) -> str | None:
    """The response's Account: the ledger's, the Contact's, or the converted Lead's."""
    if response.account_id:
        return response.account_id
    if response.contact_id and response.contact_id in org.contact_accounts:
        return org.contact_accounts[response.contact_id]
    lead = org.leads.get(response.lead_id or "")
    return lead.account_id if lead is not None and lead.is_converted else None


def opportunities_of(response: Response, org: Org) -> list[Opportunity]:
    """The converted Lead's Opportunity and the Account's opened at or after the response."""
    found: dict[str, Opportunity] = {}
    lead = org.leads.get(response.lead_id or "")
    if lead is not None and lead.opportunity_id in org.opportunities:
        found[lead.opportunity_id] = org.opportunities[lead.opportunity_id]  # type: ignore[index]
    account = account_of(response, org)
    if account:
        for opp in org.opportunities.values():
            if opp.account_id == account and opp.created_ms >= response.submitted_at:
                found.setdefault(opp.id, opp)
    return list(found.values())


def _sales_ready_ms(response: Response, org: Org, rule: StageRule) -> int | None:
    if response.action == "failed":
        return None
    if response.task_id:
        task = org.tasks.get(response.task_id)
        return task.created_ms if task and task.created_ms else response.submitted_at
    return response.submitted_at if response.form_id in rule.sales_ready_forms else None


def _accepted_ms(response: Response, org: Org, rule: StageRule) -> int | None:
    task = org.tasks.get(response.task_id or "")
    if task is not None and task.closed:
        return task.modified_ms or response.submitted_at
    lead = org.leads.get(response.lead_id or "")
    if lead is None:
        return None
    if lead.is_converted:
        return lead.converted_ms or lead.modified_ms or response.submitted_at
    if rule.sales_ready_status and lead.status and \
            lead.status.casefold() != rule.sales_ready_status.casefold():
        return lead.modified_ms or response.submitted_at
    return None


def _earliest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _hours(values: Sequence[int]) -> float | None:
    return round(median(values) / HOUR_MS, 1) if values else None


def _rate(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def build_funnel(responses: Iterable[Response], org: Org, *, by: str, since: str,
                 rule: StageRule = StageRule(), names: Mapping[str, str] | None = None
                 ) -> Funnel:
    """Count every group's steps, rates and median times, and the account view."""
    names = names or {}
    groups: dict[str, FunnelRow] = {}
    people: dict[str, dict[str, _Person]] = {}
    opps: dict[str, dict[str, Opportunity]] = {}
    opp_from: dict[tuple[str, str], int] = {}      # (group, opp) -> the step it followed
    account_people: dict[str, set[str]] = {}
    account_responses: dict[str, int] = {}
    account_opps: dict[str, dict[str, Opportunity]] = {}
    for r in sorted(responses, key=lambda x: (x.submitted_at, x.conversion_id)):
        key = group_key(r, by)
        row = groups.setdefault(key, FunnelRow(key, names.get(key, key) or "(none)"))
        row.responses += 1
        row.new_leads += r.action == "create_lead"
        row.attached += r.action in ("attach_lead", "attach_contact")
        row.new_contacts += r.action == "create_contact"
        email = r.email.lower()
        person = people.setdefault(key, {}).setdefault(email, _Person(first_ms=r.submitted_at))
        ready = _sales_ready_ms(r, org, rule)
        if ready is not None:
            person.sales_ready_ms = _earliest(person.sales_ready_ms, ready)
            person.accepted_ms = _earliest(person.accepted_ms, _accepted_ms(r, org, rule))
        lead = org.leads.get(r.lead_id or "")
        if lead is not None and lead.is_converted:
            person.converted_ms = _earliest(person.converted_ms,
                                            lead.converted_ms or r.submitted_at)
        for opp in opportunities_of(r, org):
            opps.setdefault(key, {}).setdefault(opp.id, opp)
            start = lead.converted_ms if lead and lead.opportunity_id == opp.id else None
            opp_from.setdefault((key, opp.id), start or r.submitted_at)
        account = account_of(r, org)
        if account:
            account_people.setdefault(account, set()).add(email)
            account_responses[account] = account_responses.get(account, 0) + 1
            for opp in opportunities_of(r, org):
                account_opps.setdefault(account, {}).setdefault(opp.id, opp)
    for key, row in groups.items():
        _finish(row, people.get(key, {}), opps.get(key, {}),
                {o: at for (g, o), at in opp_from.items() if g == key})
    accounts = [AccountRow(a, org.account_names.get(a, a), len(p), account_responses[a],
                           len(account_opps.get(a, {})),
                           sum(o.is_won for o in account_opps.get(a, {}).values()),
                           sum(o.amount for o in account_opps.get(a, {}).values() if o.is_won))
                for a, p in account_people.items()]
    accounts.sort(key=lambda a: (-a.people, -a.responses, a.name))
    ordered = sorted(groups.values(), key=lambda g: (-g.responses, g.name))
    return Funnel(since, by, ordered, accounts)


def _finish(row: FunnelRow, people: Mapping[str, _Person], opps: Mapping[str, Opportunity],
            opp_start: Mapping[str, int]) -> None:
    """A group's people steps, deal steps, rates and median times."""
    row.people = len(people)
    ready = [p for p in people.values() if p.sales_ready_ms is not None]
    accepted = [p for p in ready if p.accepted_ms is not None]
    converted = [p for p in people.values() if p.converted_ms is not None]
    row.sales_ready, row.accepted, row.converted = len(ready), len(accepted), len(converted)
    row.opportunities = len(opps)
    won = [o for o in opps.values() if o.is_won]
    row.won, row.won_amount = len(won), float(sum(o.amount for o in won))
    for before, step in zip(STEPS, STEPS[1:]):
        row.rates[step] = _rate(row.count(step), row.count(before))
    row.median_hours = {
        "sales_ready": _hours([max(0, p.sales_ready_ms - p.first_ms) for p in ready
                               if p.sales_ready_ms is not None]),
        "accepted": _hours([max(0, p.accepted_ms - p.sales_ready_ms) for p in accepted
                            if p.accepted_ms is not None and p.sales_ready_ms is not None]),
        "converted": _hours([max(0, p.converted_ms - (p.accepted_ms or p.first_ms))
                             for p in converted if p.converted_ms is not None]),
        "opportunities": _hours([max(0, o.created_ms - opp_start.get(o.id, o.created_ms))
                                 for o in opps.values()]),
        "won": _hours([max(0, o.close_ms - o.created_ms) for o in won
                       if o.close_ms is not None]),
    }


# -- lead planning -------------------------------------------------------------------------

@dataclass(frozen=True)
class RateUsed:
    """One measured rate a plan divides by, and how many people it was measured over."""

    name: str
    value: float
    over_people: int


@dataclass
class PlanRow:
    key: str
    name: str
    sales_ready_needed: int | None
    responses_needed: int | None
    rates: list[RateUsed]
    reason: str | None = None            # why no plan: too few people, or nothing measured

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name,
                "sales_ready_needed": self.sales_ready_needed,
                "responses_needed": self.responses_needed,
                "rates": [{"name": r.name, "value": r.value, "over_people": r.over_people}
                          for r in self.rates], "reason": self.reason}


@dataclass
class Plan:
    target: str                          # "opportunities" or "revenue"
    amount: float
    min_people: int
    rows: list[PlanRow]

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "amount": self.amount, "min_people": self.min_people,
                "rows": [r.to_json() for r in self.rows]}


def plan(funnel: Funnel, *, opportunities: int | None = None, revenue: float | None = None,
         min_people: int = MIN_PEOPLE) -> Plan:
    """Work back from a target (Opportunities or won revenue, each group on its own) through
    the group's measured rates to the sales-ready leads and responses it needs.

    Two rates, each measured over people: sales-ready per response (over the group's people)
    and Opportunities (or won amount) per sales-ready lead (over its sales-ready people). A
    rate measured over fewer than ``min_people`` people gives no plan: a 1-of-3 rate is
    noise, and a plan built on it would be quoted as if it were not.
    """
    if (opportunities is None) == (revenue is None):
        raise ValueError("plan for one target: opportunities or revenue")
    target, amount = (("opportunities", float(opportunities)) if opportunities is not None
                      else ("revenue", float(revenue or 0)))
    rows = []
    for row in funnel.rows:
        per_ready = (row.opportunities if target == "opportunities" else row.won_amount)
        rates = [RateUsed("sales_ready_per_response",
                          _rate(row.sales_ready, row.responses) or 0.0, row.people),
                 RateUsed("opportunities_per_sales_ready" if target == "opportunities"
                          else "won_amount_per_sales_ready",
                          _rate(per_ready, row.sales_ready) or 0.0, row.sales_ready)]
        reason = None
        thin = [r for r in rates if r.over_people < min_people]
        if thin:
            reason = "; ".join(f"{r.name} measured over {r.over_people} people "
                               f"(fewer than {min_people})" for r in thin)
        elif any(r.value <= 0 for r in rates):
            reason = "; ".join(f"no {r.name} measured (0)" for r in rates if r.value <= 0)
        if reason:
            rows.append(PlanRow(row.key, row.name, None, None, rates, reason))
            continue
        ready = math.ceil(amount / rates[1].value - 1e-9)
        rows.append(PlanRow(row.key, row.name, ready,
                            math.ceil(ready / rates[0].value - 1e-9), rates))
    return Plan(target, amount, min_people, rows)
