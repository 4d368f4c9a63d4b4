"""What each lead management method would have done with the same responses (pure).

A what-if decides one window of responses under several methods over the same facts (one
set of lookups, ``connector.engine.gather``) and tallies, per method, what a sales team
would see: new Leads, responses attached to open Leads or to Contacts (the account team's
view), people left with more than one open Lead, hand-offs, Tasks per owner and the fields
updates would change on existing records. The people whose outcome differs most between
methods are listed with each method's decision; with a second configuration (``--against``)
the people whose outcome differs between the two are listed too, owner and stage included,
since a new routing changes who gets a Lead rather than what is made.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from connector.core.batch import BatchFacts
from connector.core.model import Action, Method
from connector.core.plan import WritePlan

MAX_DIFFERENCES = 20
INTEGRATION_USER = "(integration user)"   # a Task with no owner set is the API user's


@dataclass(frozen=True)
class Fill:
    """What one response did, with routing's part: the unit two configurations compare."""

    action: str
    owner: str | None = None
    stage: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "owner": self.owner, "stage": self.stage}


@dataclass
class MethodTally:
    responses: int = 0
    new_leads: int = 0
    new_contacts: int = 0
    attached_to_leads: int = 0
    attached_to_contacts: int = 0
    failed: int = 0
    handoffs: int = 0
    tasks_by_owner: Counter[str] = field(default_factory=Counter)
    open_leads: Counter[str] = field(default_factory=Counter)        # email -> open Leads after
    decisions: dict[str, list[str]] = field(default_factory=dict)    # email -> what each fill did
    field_changes: Counter[str] = field(default_factory=Counter)     # "Lead.Title" -> updates
    fills: dict[str, list[Fill]] = field(default_factory=dict)       # kept for --against only

    @property
    def people_with_several_open_leads(self) -> int:
        return sum(1 for n in self.open_leads.values() if n > 1)

    def to_json(self) -> dict[str, Any]:
        return {"responses": self.responses, "new_leads": self.new_leads,
                "new_contacts": self.new_contacts, "attached_to_leads": self.attached_to_leads,
                "attached_to_contacts": self.attached_to_contacts,
                "people_with_several_open_leads": self.people_with_several_open_leads,
                "handoffs": self.handoffs}


@dataclass
class WhatIf:
    """The tallies of a window, one per method, built batch by batch."""

    methods: dict[Method, MethodTally]
    known_open_leads: dict[str, int] = field(default_factory=dict)   # email -> open Leads before
    keep_fills: bool = False   # owner and stage per fill: only a comparison of configs needs them

    @classmethod
    def of(cls, methods: Iterable[Method], *, keep_fills: bool = False) -> "WhatIf":
        return cls({m: MethodTally() for m in methods}, keep_fills=keep_fills)

    def add_facts(self, facts: BatchFacts) -> None:
        """What Salesforce held before the window for the batch's people: open Leads each."""
        for email, match in facts.people.matches.items():
            self.known_open_leads.setdefault(email, match.lead_count)

    def add_plan(self, method: Method, plan: WritePlan) -> None:
        tally = self.methods[method]
        for step in plan.steps:
            d = step.decision
            tally.responses += 1
            email = d.response.email if d.response else ""
            tally.decisions.setdefault(email, []).append(d.action.value)
            if d.action is Action.FAILED:
                tally.failed += 1
            elif d.action is Action.ATTACH_LEAD:
                tally.attached_to_leads += 1
            elif d.action is Action.ATTACH_CONTACT:
                tally.attached_to_contacts += 1
            if step.enrichment.stage == "sales_ready":
                tally.handoffs += 1
            task = step.enrichment.task
            if task is not None:
                tally.tasks_by_owner[task.owner or INTEGRATION_USER] += 1
            if self.keep_fills:
                owner = step.enrichment.owner
                tally.fills.setdefault(email, []).append(
                    Fill(d.action.value, owner.id if owner else None, step.enrichment.stage))
        for update in plan.updates:
            for name in update.fields:
                tally.field_changes[f"{update.sobject}.{name}"] += 1
        new_lead_people = {lw.conversion_id for lw in plan.leads}
        for step in plan.steps:
            r = step.decision.response
            if r is not None and step.decision.conversion_id in new_lead_people:
                tally.open_leads[r.email] += 1
        tally.new_leads += len(plan.leads)
        tally.new_contacts += len(plan.contacts)

    def finish(self) -> None:
        """Add the open Leads each person had before the window to those the window made."""
        for tally in self.methods.values():
            for email, before in self.known_open_leads.items():
                if before:
                    tally.open_leads[email] += before

    def differences(self, limit: int = MAX_DIFFERENCES) -> list[dict[str, Any]]:
        """The people whose outcome differs most: by the spread of new Leads between methods,
        then of what their fills did; each with the decisions per method."""
        people: set[str] = set()
        for tally in self.methods.values():
            people.update(email for email in tally.decisions if email)
        rows = []
        for email in people:
            made = {m: sum(1 for a in t.decisions.get(email, []) if a == Action.CREATE_LEAD.value)
                    for m, t in self.methods.items()}
            kinds = {tuple(t.decisions.get(email, [])) for t in self.methods.values()}
            spread = max(made.values()) - min(made.values())
            if spread == 0 and len(kinds) == 1:
                continue
            rows.append((spread, len(kinds), email, {
                "email": email, "new_leads": {m.value: n for m, n in made.items()},
                "decisions": {m.value: t.decisions.get(email, []) for m, t in self.methods.items()}}))
        rows.sort(key=lambda row: (-row[0], -row[1], row[2]))
        return [row[3] for row in rows[:limit]]

    def to_json(self, *, since: str, salesforce_calls: int) -> dict[str, Any]:
        return {"since": since,
                "methods": {m.value: t.to_json() for m, t in self.methods.items()},
                "salesforce_calls": salesforce_calls, "differences": self.differences()}


def differences_between(main: WhatIf, other: WhatIf, limit: int = MAX_DIFFERENCES
                        ) -> list[dict[str, Any]]:
    """The people whose fills come out differently under the other configuration: most
    methods differing first, then the widest gap in new Leads. A fill differs by what it did
    or by the owner or stage routing gave it (both WhatIfs must keep fills)."""
    methods = [m for m in main.methods if m in other.methods]
    people: set[str] = set()
    for whatif in (main, other):
        for m in methods:
            people.update(email for email in whatif.methods[m].fills if email)
    rows = []
    for email in people:
        mine = {m: main.methods[m].fills.get(email, []) for m in methods}
        theirs = {m: other.methods[m].fills.get(email, []) for m in methods}
        differing = sum(1 for m in methods if mine[m] != theirs[m])
        if not differing:
            continue
        gap = max(abs(_new_leads(mine[m]) - _new_leads(theirs[m])) for m in methods)
        rows.append((differing, gap, email, {
            "email": email,
            "methods": {m.value: {"main": [f.to_json() for f in mine[m]],
                                  "against": [f.to_json() for f in theirs[m]]} for m in methods}}))
    rows.sort(key=lambda row: (-row[0], -row[1], row[2]))
    return [row[3] for row in rows[:limit]]


def _new_leads(fills: Iterable[Fill]) -> int:
    return sum(1 for f in fills if f.action == Action.CREATE_LEAD.value)


def made_by_leadsync(ledger_rows: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """The records and memberships the ledger says leadsync made for these responses: what a
    what-if takes out of the lookups to see the org as it was before them."""
    made: set[str] = set()
    for row in ledger_rows:
        if row.get("status") != "applied":
            continue
        if row.get("action") == Action.CREATE_LEAD.value and row.get("lead_id"):
            made.add(str(row["lead_id"]))
        if row.get("action") == Action.CREATE_CONTACT.value and row.get("contact_id"):
            made.add(str(row["contact_id"]))
        if row.get("member_id") and not row.get("member_existed"):
            made.add(str(row["member_id"]))
    return frozenset(made)
