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
account's own record) unless ``unique_prefers = "lead"``. A person unknown to Salesforce whose
email domain (or company) matches an existing Account is "the new person at a known account":
with ``[accounts] new_person = "contact"`` unique creates a Contact on that Account instead of
a stray Lead (the other methods always create a Lead, which may carry the matched Account).

"Attach" means a CampaignMember for the campaign the form maps to. Decisions are aware of
what earlier responses of the same run decided: once Bob's first fill creates a Lead under
hybrid or unique, his second, third and fourth fills attach to *that* Lead (even before it
has a Salesforce Id), so four fills in one poll give one Lead, not four. Under poi every
fill is its own point of interest and creates its own Lead.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Iterable, Mapping

from connector.core.model import Action, Decision, Match, Method, Record, Response, Target

if TYPE_CHECKING:
    from connector.core.accounts import AccountMatch


@dataclass
class RunMemory:
    """What earlier responses of this run decided, carried across batches.

    ``people`` maps an email to the record (a Lead, or under unique a Contact at a matched
    Account) this run created or will create for it; the engine fills in the Id once
    Salesforce returns it.
    """

    people: dict[str, Target] = field(default_factory=dict)
    creators: dict[str, str] = field(default_factory=dict)   # conversion id -> email
    # Memberships written or planned by this run, (campaign, record key) -> conversion id,
    # so a repeat fill in a later batch shares the membership (``connector.core.plan``).
    memberships: dict[tuple[str, str], str] = field(default_factory=dict)

    def remember(self, email: str, target: Target) -> None:
        self.people[email] = target
        if target.new_lead_of:
            self.creators[target.new_lead_of] = email

    def created(self, conversion_id: str, record_id: str) -> None:
        email = self.creators.get(conversion_id)
        known = self.people.get(email) if email is not None else None
        if email is not None and known is not None and known.new_lead_of == conversion_id:
            self.people[email] = Target(known.sobject, record_id, conversion_id)

    def failed(self, conversion_id: str) -> None:
        """The next response of this person creates the record again."""
        email = self.creators.pop(conversion_id, None)
        known = self.people.get(email) if email is not None else None
        if email is not None and known is not None and known.new_lead_of == conversion_id:
            del self.people[email]

    def settle(self) -> None:
        """Forget the records Salesforce now holds; keep only what is still in flight.

        Once a batch is written, the records it created are found by the next batch's
        lookup like any other record, so remembering them would only grow the run's memory
        with its backlog. After a clean batch nothing is in flight and the memory is empty.
        A dry run writes nothing, so it never settles: there the memory is the only place a
        planned Lead exists.
        """
        self.people = {email: t for email, t in self.people.items() if t.id is None}
        self.creators = {cid: email for cid, email in self.creators.items() if email in self.people}
        self.memberships.clear()

    def forget_memberships_of(self, failed: set[str]) -> None:
        """Memberships whose creating response failed: the next fill tries them again."""
        for key in [k for k, cid in self.memberships.items() if cid in failed]:
            del self.memberships[key]

    def copy(self) -> "RunMemory":
        return RunMemory(dict(self.people), dict(self.creators), dict(self.memberships))


def needs_account(method: Method, match: Match | None, remembered: bool) -> bool:
    """Whether the method will create a record for this person, so the Account their domain
    or company matches matters: always under poi; under hybrid and unique only for a person
    Salesforce does not know (an open Lead, or under unique a Contact) and this run has not
    already created a record for."""
    if method is Method.POI:
        return True
    known = match is not None and (match.lead is not None or
                                   (method is Method.UNIQUE and match.contact is not None))
    return not (known or remembered)


def attachable_ids(method: Method, match: Match | None) -> set[str]:
    """Records of this person a response may attach to under the method: the ones whose
    campaign memberships the batch must know (found before deciding, so one lookup serves
    every method of a what-if)."""
    if match is None or method is Method.POI:
        return set()
    records = [match.lead] + ([match.contact] if method is Method.UNIQUE else [])
    return {r.id for r in records if r is not None}


def replan_is_safe(method: Method, *, keyed: bool) -> bool:
    """Whether a batch whose write reply was lost can be decided again without duplicates.

    Replanning finds a lost Lead by email (hybrid, unique) or by the external id (``keyed``,
    any method). Under poi without the key a lost Lead cannot be told from an older one of
    the same person, so the run stops and leaves the responses pending."""
    return method is not Method.POI or keyed


def decide(method: Method, response: Response, match: Match, *,
           unique_prefers: str = "contact", account: "AccountMatch | None" = None,
           new_person: str = "lead") -> Decision:
    """The decision table above, for one response and what Salesforce holds for its email.

    ``account`` is the Account the person's domain or company matched, if any; it only
    changes the decision under unique with ``new_person = "contact"``.
    """
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
        if account is not None and new_person == "contact":
            return Decision(response, cid, Action.CREATE_CONTACT, Target("Contact", None, cid),
                            f"unique: no Lead or Contact, but the {account.how} matches Account "
                            f"{account.account_id} ({account.name}); a new Contact there")
        return replace(new_lead, reason="unique: neither a Lead nor a Contact exists")

    raise ValueError(f"unknown method {method!r}")  # Method is a closed enum


def decide_all(method: Method, responses: Iterable[Response], matches: Mapping[str, Match],
               memory: RunMemory, *, unique_prefers: str = "contact",
               recovered: Mapping[str, Record] | None = None,
               accounts: "Mapping[str, AccountMatch] | None" = None,
               new_person: str = "lead") -> list[Decision]:
    """Decide a batch in submission order, remembering the records this run creates.

    ``recovered`` maps a conversion id to the Lead (or Contact) an interrupted earlier attempt
    already created for it (found by the external id, or by
    ``connector.core.batch.replayed_creates``): that response is a create, already done, and
    is recorded and counted as one.
    ``accounts`` maps an email to the Account it matched (see ``connector.core.accounts``).
    """
    recovered = recovered or {}
    accounts = accounts or {}
    decisions = []
    for response in responses:
        own = recovered.get(response.conversion_id)
        if own is not None:                  # a Lead, or a Contact at a matched Account
            made = Target(own.sobject, own.id, response.conversion_id)
            decisions.append(Decision(response, response.conversion_id,
                                      Action.CREATE_CONTACT if own.sobject == "Contact"
                                      else Action.CREATE_LEAD, made,
                                      f"{method.value}: {own.sobject} {own.id} was created for "
                                      "this response by an earlier, interrupted run or attempt "
                                      "(a lost reply, a stopped run)"))
            if method is not Method.POI and response.email not in memory.people:
                memory.remember(response.email, made)
            continue
        match = matches.get(response.email) or Match(response.email)
        run_made = memory.people.get(response.email) if method is not Method.POI else None
        if run_made is not None:
            stand_in = Record(_RUN_MADE, run_made.sobject, response.email)
            match = (replace(match, lead=stand_in) if run_made.sobject == "Lead"
                     else replace(match, contact=stand_in))
        decision = decide(method, response, match, unique_prefers=unique_prefers,
                          account=accounts.get(response.email), new_person=new_person)
        if run_made is not None and decision.target and decision.target.id == _RUN_MADE:
            decision = replace(decision, target=run_made,
                               reason=f"{method.value}: an earlier response in this run created "
                                      f"this person's {run_made.sobject}; attach to it")
        if (decision.action in (Action.CREATE_LEAD, Action.CREATE_CONTACT)
                and method is not Method.POI and decision.target):
            memory.remember(response.email, decision.target)
        decisions.append(decision)
    return decisions


# Stands in for the record this run creates for a person, so the table above can treat it
# like any open Lead (or Contact); decide_all swaps in the real target afterwards.
_RUN_MADE = "(this run's new record)"


def _target(record: Record) -> Target:
    return Target(record.sobject, record.id)
