"""A batch's lookups, read once into ``BatchFacts`` for ``connector.core.batch.decide_batch``.

Which people need an Account and which records' memberships matter are the methods' rules
(``connector.core.methods``); this module only asks Salesforce and the ledger for them, one
call per kind (each packed in a composite call by the client). Asked for several methods at
once (a what-if), it reads the union, so three methods cost the lookups of one.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from connector.core.accounts import lookup_terms
from connector.core.batch import (BatchFacts, BatchPolicy, account_seekers, know_people,
                                  normalise_batch, read_fields, with_parked_leads)
from connector.core.enrich.scoring import Event
from connector.core.methods import RunMemory, attachable_ids
from connector.core.progression import event_record_ids
from connector.core.model import Action, Method, Response, Status, Submission
from connector.core.timefmt import parse_ms
from connector.ports import Crm, Ledger


class Gatherer:
    def __init__(self, *, salesforce: Crm, state: Ledger, clock: Callable[[], float]) -> None:
        self.sf = salesforce
        self.state = state
        self.clock = clock

    def gather(self, batch: Sequence[Submission], policy: BatchPolicy,
               deciders: Sequence[tuple[Method, RunMemory]], *,
               hide: frozenset[str] = frozenset()) -> BatchFacts:
        """The facts for deciding ``batch`` under each (method, that method's run memory).

        ``hide`` names records and memberships left out of what Salesforce is said to hold:
        a what-if takes out what leadsync itself made for the window's responses, so it
        replays them against the org as it was before them."""
        responses, rejected = normalise_batch(batch, policy)
        order = [sub.conversion_id for sub in batch]
        now_ms = int(self.clock() * 1000)
        if not responses:
            return BatchFacts(responses, rejected, order, now_ms=now_ms)
        emails = {r.email for r in responses}
        lead_rows, contact_rows = self.sf.find_people(
            emails, external_id_field=policy.external_id_field,
            lead_fields=read_fields(policy, "Lead"), contact_fields=read_fields(policy, "Contact"))
        if hide:
            lead_rows = [row for row in lead_rows if row["Id"] not in hide]
            contact_rows = [row for row in contact_rows if row["Id"] not in hide]
        # A what-if replays against the org before the window: no intent is a replay there.
        intents, contact_intents = (({}, {}) if policy.external_id_field or hide
                                    else self._create_intents(responses))
        people = know_people(responses, lead_rows, contact_rows, policy, create_intents=intents,
                             contact_intents=contact_intents)
        parked = {} if hide else self.state.parked_leads(r.conversion_id for r in responses)
        if parked:
            people = with_parked_leads(people, parked)
        seekers: dict[str, str | None] = {}
        record_ids = {record.id for record in people.recovered.values()}
        for method, memory in deciders:
            seekers.update(account_seekers(responses, people, method, memory=memory,
                                           settings=policy.accounts))
            for r in responses:
                record_ids |= attachable_ids(method, people.matches.get(r.email))
        record_ids |= event_record_ids(responses, people.rows, policy.ladders)   # poi's events
        account_rows: list[dict[str, Any]] = []
        terms = lookup_terms(seekers, policy.accounts) if seekers else None
        if terms is not None and (terms.domains or terms.company_prefixes):
            account_rows = self.sf.find_accounts(terms.domains, terms.company_prefixes)
        member_rows = [row for row in self.sf.find_members({r.campaign_id for r in responses},
                                                           record_ids) if row["Id"] not in hide]
        history = {}
        if policy.routing.tasks is not None:
            names = policy.form_names
            history = {email: [(at, names.get(form, form)) for at, form in moments]
                       for email, moments in self.state.history(r.email for r in responses).items()}
        score_events: dict[str, Sequence[Event]] = {}
        score_fit: dict[str, Mapping[str, str]] = {}
        if policy.scoring is not None:
            from connector.engine.scoring import stored_history

            score_events, score_fit = stored_history(self.state, emails)
        return BatchFacts(responses, rejected, order, people=people, account_rows=account_rows,
                          member_rows=member_rows, history=history, now_ms=now_ms,
                          score_events=score_events, score_fit=score_fit)

    def _create_intents(self, responses: Sequence[Response]
                        ) -> tuple[dict[str, int], dict[str, int]]:
        """Conversion id -> when its pending ``create_lead`` (first) or ``create_contact``
        (second) intent was recorded (epoch ms), for this batch's responses the ledger holds
        so: a replay after a lost reply, or the resumption of a killed run. Local reads only;
        a batch with no pending response (every batch of a run without faults) costs one
        lookup by key."""
        statuses = self.state.statuses(r.conversion_id for r in responses)
        if Status.PENDING.value not in statuses.values():
            return {}, {}
        leads: dict[str, int] = {}
        contacts: dict[str, int] = {}
        kinds = {Action.CREATE_LEAD.value: leads, Action.CREATE_CONTACT.value: contacts}
        for row in self.state.rows(Status.PENDING.value):
            at = parse_ms(row.get("updated_at"))
            into = kinds.get(row.get("action") or "")
            if (into is not None and at is not None
                    and statuses.get(row["conversion_id"]) == Status.PENDING.value):
                into[row["conversion_id"]] = at
        return leads, contacts
