"""The lead management methods: what each response does, given who the person already is.

This is the one place that answers "what happens to Bob's fourth form fill under hybrid?".

============  ======================  =====================  ===========================
method        person unknown          already an open Lead   only a Contact
============  ======================  =====================  ===========================
poi           create a Lead           create a Lead          create a Lead
hybrid        create a Lead           attach to the Lead     create a Lead
unique        create a Lead           attach to the Lead     attach to the Contact
============  ======================  =====================  ===========================

Under ``unique``, a person who is both a Lead and a Contact attaches to the Contact (the
account's own record) unless ``unique_prefers = "lead"``.

"Attach" means a CampaignMember for the campaign the form maps to. Decisions are aware of
what earlier responses of the same run decided: once Bob's first fill creates a Lead under
hybrid or unique, his second, third and fourth fills attach to *that* Lead (even before it
has a Salesforce Id), so four fills in one poll give one Lead, not four. Under poi every
fill is its own point of interest and creates its own Lead.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping

from .model import Action, Decision, Match, Method, Record, Response, Target


@dataclass
class RunMemory:
    """What earlier responses of this run decided, carried across batches.

    ``leads`` maps an email to the Lead this run created (or will create) for it;
    the engine fills in the Id once Salesforce returns it.
    """

    leads: dict[str, Target] = field(default_factory=dict)
    creators: dict[str, str] = field(default_factory=dict)   # conversion id -> email

    def remember(self, email: str, target: Target) -> None:
        self.leads[email] = target
        if target.new_lead_of:
            self.creators[target.new_lead_of] = email

    def lead_created(self, conversion_id: str, lead_id: str) -> None:
        email = self.creators.get(conversion_id)
        if email is not None and self.leads.get(email, Target("Lead")).new_lead_of == conversion_id:
            self.leads[email] = Target("Lead", lead_id, conversion_id)

    def lead_failed(self, conversion_id: str) -> None:
        """The next response of this person creates a Lead again."""
        email = self.creators.pop(conversion_id, None)
        if email is not None and self.leads.get(email, Target("Lead")).new_lead_of == conversion_id:
            del self.leads[email]

    def copy(self) -> "RunMemory":
        return RunMemory(dict(self.leads), dict(self.creators))


def decide(method: Method, response: Response, match: Match, *,
           unique_prefers: str = "contact") -> Decision:
    """The decision table above, for one response and what Salesforce holds for its email."""
    lead, contact = match.lead, match.contact
    cid = response.conversion_id
    new_lead = Decision(response, cid, Action.CREATE_LEAD, Target("Lead", None, cid))

    if method is Method.POI:
        return replace(new_lead, reason="poi: every response creates a new Lead")

    if method is Method.HYBRID:
        if lead:
            return Decision(response, cid, Action.ATTACH_LEAD, _target(lead),
                            f"hybrid: open Lead {lead.id} exists; attach to it")
        why = ("hybrid: only a Contact exists ({}), so a new Lead".format(contact.id)
               if contact else "hybrid: no open Lead for this email")
        return replace(new_lead, reason=why)

    if method is Method.UNIQUE:
        if lead and contact:
            if unique_prefers == "lead":
                return Decision(response, cid, Action.ATTACH_LEAD, _target(lead),
                                f"unique: Lead {lead.id} and Contact {contact.id} exist; "
                                "the Lead wins (unique_prefers = lead)")
            return Decision(response, cid, Action.ATTACH_CONTACT, _target(contact),
                            f"unique: Contact {contact.id} and Lead {lead.id} exist; "
                            "the Contact wins")
        if contact:
            return Decision(response, cid, Action.ATTACH_CONTACT, _target(contact),
                            f"unique: Contact {contact.id} exists; attach to it")
        if lead:
            return Decision(response, cid, Action.ATTACH_LEAD, _target(lead),
                            f"unique: open Lead {lead.id} exists; attach to it")
        return replace(new_lead, reason="unique: neither a Lead nor a Contact exists")

    raise ValueError(f"unknown method {method!r}")  # Method is a closed enum


def decide_all(method: Method, responses: Iterable[Response], matches: Mapping[str, Match],
               memory: RunMemory, *, unique_prefers: str = "contact",
               recovered: Mapping[str, Record] | None = None) -> list[Decision]:
    """Decide a batch in submission order, remembering the Leads this run creates.

    ``recovered`` maps a conversion id to the Lead an interrupted earlier run already
    created for it (found by the external id): that response is a create, already done.
    """
    recovered = recovered or {}
    decisions = []
    for response in responses:
        own = recovered.get(response.conversion_id)
        if own is not None:
            decisions.append(Decision(response, response.conversion_id, Action.CREATE_LEAD,
                                      Target("Lead", own.id, response.conversion_id),
                                      f"{method.value}: Lead {own.id} was created for this response "
                                      "by an earlier, interrupted run"))
            if method is not Method.POI and response.email not in memory.leads:
                memory.remember(response.email, Target("Lead", own.id, response.conversion_id))
            continue
        match = matches.get(response.email) or Match(response.email)
        run_lead = memory.leads.get(response.email) if method is not Method.POI else None
        if run_lead is not None:
            match = replace(match, lead=Record(_RUN_LEAD, "Lead", response.email))
        decision = decide(method, response, match, unique_prefers=unique_prefers)
        if run_lead is not None and decision.target and decision.target.id == _RUN_LEAD:
            decision = replace(decision, target=run_lead,
                               reason=f"{method.value}: an earlier response in this run created "
                                      "this person's Lead; attach to it")
        if decision.action is Action.CREATE_LEAD and method is not Method.POI and decision.target:
            memory.remember(response.email, decision.target)
        decisions.append(decision)
    return decisions


# Stands in for the Lead this run creates for a person, so the table above can treat it
# like any open Lead; decide_all swaps in the real target afterwards.
_RUN_LEAD = "(this run's new Lead)"


def _target(record: Record) -> Target:
    return Target(record.sobject, record.id)
