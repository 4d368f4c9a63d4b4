"""``leadsync whatif``: the window's responses decided under each method, side by side.

The lookups are gathered once per batch for every method together (the union of what each
needs), then ``decide_batch`` runs once per method with that method's own run memory, in
submission order. Nothing is written: the state is opened read-only, and the Salesforce
client is reached through :class:`SharedLookups`, which refuses every write. What leadsync
itself made for the window's responses (the ledger knows) is left out of the lookups, so a
what-if after the sync answers as one before it would have.

With ``--against OTHER.toml`` the same responses are decided a second time under the other
configuration (its mapping, routing, accounts and campaigns) for the same methods. It must
name the same Salesforce org; the org, HubSpot and the ledger are the main configuration's.
The other configuration's lookups are served from the main one's when they ask for no more:
the main lookup of people reads the other mapping's fields too, so a new mapping or routing
costs no extra lookup. Only what the other configuration needs beyond that (other emails,
other Accounts, other campaigns' memberships) is read again, and the result says which.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Mapping, Sequence

from simple_salesforce import format_soql

from connector.config.mapping_file import load_mapping
from connector.config.settings import Settings, load_settings
from connector.core.batch import BatchPolicy, decide_batch, read_fields
from connector.core.campaigns import is_campaign_id
from connector.core.ids import is_queue_id, is_user_id, to_id18
from connector.core.enrich.routing import Routing
from connector.core.keys import keyed
from connector.core.methods import RunMemory
from connector.core.model import Method, Submission
from connector.core.reconcile import parse_since
from connector.core.timefmt import iso_ms, to_ms
from connector.core.whatif import WhatIf, differences_between, made_by_leadsync
from connector.engine.gather import Gatherer
from connector.engine.run import Engine
from connector.engine.wiring import clients, open_state
from connector.errors import ConfigError, LeadsyncError
from connector.ports import Crm, Row, Usage


@dataclass(frozen=True)
class Names:
    """Names people recognise for the Ids a report shows: forms (HubSpot), campaigns and
    owners (the configuration's Usernames and queue names, as routing resolved them)."""

    forms: Mapping[str, str] = field(default_factory=dict)
    campaigns: Mapping[str, str] = field(default_factory=dict)
    owners: Mapping[str, str] = field(default_factory=dict)

    def owner(self, owner_id: str) -> str:
        return self.owners.get(owner_id, owner_id)


@dataclass
class Against:
    """The other configuration's side of a comparison."""

    config: str
    whatif: WhatIf
    salesforce_calls: int                 # calls made for the other configuration alone
    gathered_again: tuple[str, ...]       # lookups it could not share: people/accounts/members

    def to_json(self, main: WhatIf) -> dict[str, Any]:
        return {"config": self.config,
                "methods": {m.value: t.to_json() for m, t in self.whatif.methods.items()},
                "salesforce_calls": self.salesforce_calls,
                "gathered_again": list(self.gathered_again),
                "differences": differences_between(main, self.whatif)}


@dataclass
class WhatIfResult:
    whatif: WhatIf
    since: str
    salesforce_calls: int
    hubspot_calls: int
    against: Against | None = None
    names: Names = field(default_factory=Names)
    timezone: str = "UTC"                 # [routing] timezone: how the report shows times
    since_ms: int = 0
    first_ms: int | None = None           # the window's first and last submission
    last_ms: int | None = None
    config: str = ""
    landings: list[tuple[str, str]] = field(default_factory=list)   # (form id, campaign id)
    responses_by_form: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = self.whatif.to_json(since=self.since, salesforce_calls=self.salesforce_calls)
        if self.against is not None:
            data["against"] = self.against.to_json(self.whatif)
        return data


class WritesRefused(LeadsyncError):
    """A what-if reached a write: a bug, since it must write nothing."""


class SharedLookups:
    """The Salesforce client as a what-if's gatherers see it: reads pass through, writes are
    refused, and a batch's lookups are kept so a second configuration's gather is served
    from the first one's when it asks for no more (:meth:`share`).

    ``lead_fields``/``contact_fields`` widen every lookup of people, so the first gather
    also reads the fields the second configuration's mapping and routing compare against.
    """

    def __init__(self, crm: Crm, *, lead_fields: Sequence[str] = (),
                 contact_fields: Sequence[str] = ()) -> None:
        self.crm = crm
        self.widen = (tuple(lead_fields), tuple(contact_fields))
        self.sharing = False
        self.gathered_again: set[str] = set()
        self._people: tuple[frozenset[str], str | None, frozenset[str], frozenset[str],
                            tuple[list[Row], list[Row]]] | None = None
        self._accounts: tuple[frozenset[str], frozenset[str], list[Row]] | None = None
        self._members: tuple[frozenset[str], frozenset[str], list[Row]] | None = None
        self._described: dict[str, dict[str, Any]] = {}

    def next_batch(self) -> None:
        """Forget the last batch's lookups (the memory stays one batch's) and read anew."""
        self._people = self._accounts = self._members = None
        self.sharing = False

    def share(self) -> None:
        """From now on this batch's lookups are the second configuration's."""
        self.sharing = True

    # -- the lookups a gather makes --------------------------------------------------------
    def find_people(self, emails: Iterable[str], *, external_id_field: str | None = None,
                    lead_fields: Sequence[str] = (), contact_fields: Sequence[str] = ()
                    ) -> tuple[list[Row], list[Row]]:
        wanted = frozenset(e.lower() for e in emails)
        if self.sharing and self._people is not None:
            had, ext, leads, contacts, (lead_rows, contact_rows) = self._people
            if (wanted <= had and ext == external_id_field and set(lead_fields) <= leads
                    and set(contact_fields) <= contacts):
                return ([r for r in lead_rows if str(r.get("Email") or "").lower() in wanted],
                        [r for r in contact_rows if str(r.get("Email") or "").lower() in wanted])
        lead_all = tuple(dict.fromkeys([*lead_fields, *self.widen[0]]))
        contact_all = tuple(dict.fromkeys([*contact_fields, *self.widen[1]]))
        self._miss("people")
        rows = self.crm.find_people(wanted, external_id_field=external_id_field,
                                    lead_fields=lead_all, contact_fields=contact_all)
        if not self.sharing:
            self._people = (wanted, external_id_field, frozenset(lead_all), frozenset(contact_all),
                            rows)
        return rows

    def find_accounts(self, domains: Iterable[str], name_prefixes: Iterable[str] = ()
                      ) -> list[Row]:
        domains, prefixes = frozenset(domains), frozenset(name_prefixes)
        if self.sharing and self._accounts is not None:
            had_domains, had_prefixes, rows = self._accounts
            if domains <= had_domains and prefixes <= had_prefixes:
                return [r for r in rows if _account_found_by(r, domains, prefixes)]
        self._miss("accounts")
        found = self.crm.find_accounts(domains, prefixes)
        if not self.sharing:
            self._accounts = (domains, prefixes, found)
        return found

    def find_members(self, campaign_ids: Iterable[str], record_ids: Iterable[str]) -> list[Row]:
        campaigns, records = frozenset(campaign_ids), frozenset(record_ids)
        if self.sharing and self._members is not None:
            had_campaigns, had_records, rows = self._members
            if campaigns <= had_campaigns and records <= had_records:
                return [r for r in rows if r.get("CampaignId") in campaigns
                        and (r.get("LeadId") in records or r.get("ContactId") in records)]
        self._miss("members")
        found = self.crm.find_members(campaigns, records)
        if not self.sharing:
            self._members = (campaigns, records, found)
        return found

    def _miss(self, kind: str) -> None:
        if self.sharing:
            self.gathered_again.add(kind)

    # -- the rest of the client: reads pass through, writes are refused ---------------------
    @property
    def calls(self) -> int:
        return self.crm.calls

    @calls.setter
    def calls(self, value: int) -> None:
        self.crm.calls = value

    @property
    def usage(self) -> Usage | None:
        return self.crm.usage

    def reset_usage(self) -> None:
        self.crm.reset_usage()

    def query_many(self, statements: Sequence[str], *, include_deleted: bool = False
                   ) -> list[list[Row]]:
        return self.crm.query_many(statements, include_deleted=include_deleted)

    def find_owners(self, usernames: Iterable[str], queues: Iterable[str],
                    user_ids: Iterable[str] = ()) -> dict[str, str]:
        return self.crm.find_owners(usernames, queues, user_ids)

    def find_tasks(self, field_name: str, values: Iterable[str]) -> list[Row]:
        return self.crm.find_tasks(field_name, values)

    def describe(self, sobjects: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Kept for the run: the second configuration's engine reads the describes the first
        read (a read-only ledger cannot keep them between the two)."""
        wanted = list(sobjects)
        if not all(name in self._described for name in wanted):
            self._described.update(self.crm.describe(wanted))
        return {name: self._described[name] for name in wanted if name in self._described}

    def create(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[Row]:
        raise WritesRefused(f"a what-if writes nothing (create {sobject})")

    def upsert(self, sobject: str, external_id_field: str, records: Sequence[dict[str, Any]]
               ) -> list[Row]:
        raise WritesRefused(f"a what-if writes nothing (upsert {sobject})")

    def create_members(self, records: Sequence[dict[str, Any]]) -> list[Row]:
        raise WritesRefused("a what-if writes nothing (create CampaignMember)")

    def update_mixed(self, records: Sequence[tuple[str, dict[str, Any]]]) -> list[Row]:
        raise WritesRefused("a what-if writes nothing (update)")


def _account_found_by(row: Row, domains: frozenset[str], prefixes: frozenset[str]) -> bool:
    """Whether ``find_accounts(domains, prefixes)`` would have returned ``row`` (its SOQL
    ``LIKE`` ignores case): Website containing a domain, or Name starting with a prefix."""
    website = str(row.get("Website") or "").lower()
    name = str(row.get("Name") or "").lower()
    return (any(d.lower() in website for d in domains)
            or any(name.startswith(p.lower()) for p in prefixes))


@dataclass
class _Side:
    """One configuration's decider: its policy, gatherer, tallies and run memories."""

    policy: BatchPolicy
    gatherer: Gatherer
    whatif: WhatIf
    memories: dict[Method, RunMemory]

    def decide(self, batch: Sequence[Submission], hide: frozenset[str]) -> None:
        batch = [s for s in batch if s.form_id in self.policy.landings]
        deciders = list(self.memories.items())
        facts = self.gatherer.gather(batch, self.policy, deciders, hide=hide)
        self.whatif.add_facts(facts)
        for method, memory in deciders:
            self.whatif.add_plan(method, decide_batch(facts, method, memory, policy=self.policy))


def run_whatif(settings: Settings, *, since: str, methods: Sequence[Method],
               now: datetime | None = None, against: str | None = None, config: str = "",
               names: bool = False) -> WhatIfResult:
    """Decide the window under each method (and under ``against``'s configuration); write
    nothing. ``names`` also reads form and campaign names for a report people read (one
    HubSpot call, one Salesforce call: the campaign read every dry run makes too)."""
    start_ms = to_ms(parse_since(since, now=now or datetime.now(timezone.utc)))
    other = _load_against(settings, against) if against else None
    state = open_state(settings, read_only=True)
    try:
        vendors = clients(settings)
        sf, hs = vendors.salesforce, vendors.hubspot
        lookups = SharedLookups(sf)
        engine = _engine(settings, lookups, hs, state)
        policy = engine.prepared_policy()
        second: _Side | None = None
        other_calls = 0
        if other is not None:
            before = sf.calls
            other_engine = _engine(other, lookups, hs, state)
            other_policy = other_engine.prepared_policy()
            other_calls += sf.calls - before
            lookups.widen = (read_fields(other_policy, "Lead"), read_fields(other_policy, "Contact"))
            second = _side(other_policy, lookups, state, methods=methods, keep_fills=True)
        main = _side(policy, lookups, state, methods=methods, keep_fills=other is not None)
        forms = set(policy.landings) | (set(second.policy.landings) if second else set())
        submissions = hs.submissions_many({form: start_ms for form in sorted(forms)})
        # Keyed as a sync would key them: one conversion id on two forms is two responses.
        submissions = keyed(submissions, state.owner_forms(s.conversion_id for s in submissions))
        first_ms = min((s.submitted_at for s in submissions), default=None)
        last_ms = max((s.submitted_at for s in submissions), default=None)
        by_form = dict(Counter(s.form_id for s in submissions))
        hide = made_by_leadsync(state.rows_since(start_ms))
        for batch in _batches_consumed(submissions, settings.sync.batch_size):
            lookups.next_batch()
            main.decide(batch, hide)
            if second is not None:
                lookups.share()
                before = sf.calls
                second.decide(batch, hide)
                other_calls += sf.calls - before
        main.whatif.finish()
        routings = [engine.routing] + ([other_engine.routing] if other is not None else [])
        whatifs = [main.whatif] + ([second.whatif] if second is not None else [])
        known = (read_names(settings, sf, hs, form_names=engine.form_names, routings=routings,
                            owner_ids=_owners_in(whatifs))
                 if names else Names(owners=owner_names_by_id(routings)))
        result = WhatIfResult(
            main.whatif, iso_ms(start_ms) or "", sf.calls, hs.calls, names=known,
            timezone=settings.routing.timezone, since_ms=start_ms, config=config,
            first_ms=first_ms, last_ms=last_ms, responses_by_form=by_form,
            landings=[(c.form_id, c.campaign_id) for c in settings.campaigns])
        if second is not None and against:
            second.whatif.finish()
            result.against = Against(against, second.whatif, other_calls,
                                     tuple(sorted(lookups.gathered_again)))
        return result
    finally:
        state.close()


def _batches_consumed(submissions: list[Submission], size: int) -> Iterator[list[Submission]]:
    """The window in batches, oldest first as ``Batches.of`` cuts them, each batch dropped
    from memory once handed out: a what-if holds the whole window (HubSpot pages newest
    first), and this lets the submissions leave as the tallies grow (``submissions`` is
    emptied)."""
    pending = sorted(submissions, key=lambda s: (s.submitted_at, s.conversion_id), reverse=True)
    submissions.clear()
    while pending:
        batch = pending[-size:]
        del pending[-size:]
        batch.reverse()
        yield batch


def _owners_in(whatifs: Iterable[WhatIf]) -> set[str]:
    """The owner Ids a report shows: Tasks' owners, and with --against the fills' owners."""
    found: set[str] = set()
    for whatif in whatifs:
        for tally in whatif.methods.values():
            found.update(tally.tasks_by_owner)
            found.update(f.owner for fills in tally.fills.values() for f in fills if f.owner)
    return found


def _engine(settings: Settings, lookups: SharedLookups, hs: Any, state: Any) -> Engine:
    """An engine for its preparation only (owner Ids, describes, form names), reading
    Salesforce through ``lookups`` so two configurations' engines share the describes and
    neither can write."""
    return Engine(settings, salesforce=lookups, hubspot=hs, state=state,
                  mapping=load_mapping(settings.mapping_path()))


def _side(policy: BatchPolicy, lookups: SharedLookups, state: Any, *, methods: Sequence[Method],
          keep_fills: bool) -> _Side:
    return _Side(policy, Gatherer(salesforce=lookups, state=state, clock=time.time),
                 WhatIf.of(methods, keep_fills=keep_fills), {m: RunMemory() for m in methods})


def _load_against(settings: Settings, path: str) -> Settings:
    """The other configuration, which must be for the same Salesforce org: its decisions are
    made over the main one's lookups (and its tokens are not needed)."""
    other = load_settings(path, require_secrets=False)
    if other.salesforce.instance_url.rstrip("/") != settings.salesforce.instance_url.rstrip("/"):
        raise ConfigError("must name the same Salesforce org (instance_url) as the main "
                          "configuration: a what-if compares two configurations over one "
                          "org's records", key="--against")
    return other


def owner_names_by_id(routings: Iterable[Routing]) -> dict[str, str]:
    """Owner Id -> the name the configuration gave it (Username or queue), for every owner
    the routing names and has resolved: reports show "maria@sales.example", not 005..."""
    out: dict[str, str] = {}
    for routing in routings:
        refs = [rule.owner for rule in routing.rules] + [routing.default_owner]
        refs.append(routing.tasks.owner if routing.tasks is not None else None)
        for ref in refs:
            if ref is not None and ref.id and ref.kind != "id":
                out.setdefault(ref.id, ref.name if ref.kind == "user" else f"queue {ref.name}")
    return out


def read_names(settings: Settings, sf: Crm, hs: Any, *, form_names: Mapping[str, str],
               routings: Sequence[Routing], owner_ids: Iterable[str]) -> Names:
    """Names for a report people read: forms from HubSpot (unless routing's Tasks already
    read them), and campaigns, users and queues from the org in one composite call (the
    dry run spends the same call reading the campaigns). An owner the org does not name
    keeps the configuration's name, or its Id."""
    forms = dict(form_names) or dict(hs.form_names())
    owners = owner_names_by_id(routings)
    campaign_ids = sorted({to_id18(c.campaign_id) for c in settings.campaigns
                           if is_campaign_id(c.campaign_id)})
    wanted = sorted({to_id18(o) for o in owner_ids if is_user_id(o) or is_queue_id(o)})
    users = [o for o in wanted if is_user_id(o)]
    queues = [o for o in wanted if is_queue_id(o)]
    asks = [(kind, format_soql(soql, ids)) for kind, soql, ids in (
        ("campaign", "SELECT Id, Name FROM Campaign WHERE Id IN {}", campaign_ids),
        ("user", "SELECT Id, FirstName, LastName, Username FROM User WHERE Id IN {}", users),
        ("queue", "SELECT Id, Name FROM Group WHERE Id IN {}", queues)) if ids]
    campaigns = {c.campaign_id: c.campaign_id for c in settings.campaigns
                 if not is_campaign_id(c.campaign_id)}      # given by name: that is its name
    for (kind, _), rows in zip(asks, sf.query_many([soql for _, soql in asks]) if asks else []):
        for row in rows:
            row_id = to_id18(str(row["Id"]))
            if kind == "campaign":
                campaigns[row_id] = str(row.get("Name") or row_id)
            elif kind == "user":
                full = " ".join(str(row.get(k) or "") for k in ("FirstName", "LastName")).strip()
                owners[row_id] = full or str(row.get("Username") or row_id)
            else:
                owners[row_id] = f"queue {row.get('Name') or row_id}"
    for entry in settings.campaigns:
        if is_campaign_id(entry.campaign_id) and to_id18(entry.campaign_id) in campaigns:
            campaigns[entry.campaign_id] = campaigns[to_id18(entry.campaign_id)]
    return Names(forms=forms, campaigns=campaigns, owners=owners)
