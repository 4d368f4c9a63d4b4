"""Write-back to HubSpot: push rows onto contacts, and collect the rows for everyone leadsync handed off.

Two entry points, both on :class:`Writeback`:

* :meth:`Writeback.push` takes a list of :class:`~connector.core.writeback.WritebackRow`
  (the lifecycle pass and scoring call it with theirs) and sends each contact only the
  values that differ from what HubSpot last confirmed (``adapters/sqlite/writeback``),
  100 contacts a call, recording each call's confirmed values as soon as it returns;
* :meth:`Writeback.run` builds those rows for the people in the ledger (every response
  leadsync applied names a Lead or Contact) by reading their current Salesforce records in
  bounded queries, a thousand people at a time, and pushes each thousand.

The configured HubSpot properties are read once (one call) before the first write: one
that does not exist, or is read-only, is named in :attr:`Writeback.problems` and switched
off for the run. It never stops the sync, and the other properties are still written.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Sequence

from connector.adapters.hubspot.contacts import BatchResult, ContactWriter, PropertyInfo
from connector.adapters.hubspot.forms import HubSpotClient
from connector.adapters.salesforce.client import SalesforceClient
from connector.adapters.salesforce.soql import chunk_for_query
from connector.adapters.sqlite.lifecycle import LifecycleStore
from connector.adapters.sqlite.scoring import ScoreStore
from connector.adapters.sqlite.writeback import WritebackLedger
from connector.config.settings import Settings
from connector.config.writeback import WritebackSettings
from connector.core.mapping_check import Problem
from connector.errors import ApiError, AuthError
from connector.core.writeback import (ContactChange, PushCounts, RecordFacts, RecordType, Stage,
                                      StageStatuses, WritebackProperties, WritebackRow,
                                      changed_properties, derive_stage, desired_properties)

PEOPLE_PER_ROUND = 1000       # people read from Salesforce (and pushed) at a time: memory stays flat
LEAD_FIELDS = ("Id", "Status", "IsConverted", "ConvertedContactId", "Owner.Email")
CONTACT_FIELDS = ("Id", "AccountId", "Owner.Email")
STAGE_VALUES = tuple(s.value for s in Stage)

Log = Callable[[str], None]


@dataclass(frozen=True)
class PropertyProblem:
    """A configured HubSpot property the write-back cannot use as it is."""

    field: str           # the [writeback.properties] key
    property: str        # the HubSpot property's name
    message: str
    switched_off: bool   # True: not written this run


@dataclass(frozen=True)
class Person:
    """One person from the ledger: the email their responses came with, and their record."""

    email: str
    lead_id: str | None
    contact_id: str | None


def check_properties(names: WritebackProperties, found: dict[str, PropertyInfo]) -> list[PropertyProblem]:
    """The configured properties held against the portal's (pure, for ``mappings check`` too)."""
    problems: list[PropertyProblem] = []
    for f, name in names.named().items():
        info = found.get(name)
        if info is None:
            problems.append(PropertyProblem(f, name, f"HubSpot has no contact property {name!r}; create it "
                                            f"(Settings > Properties) or set writeback.properties.{f} = false",
                                            True))
        elif info.read_only:
            problems.append(PropertyProblem(f, name, f"contact property {name!r} is read-only in HubSpot", True))
        elif f == "stage" and info.type == "enumeration":
            lacking = [v for v in STAGE_VALUES if v not in info.options]
            if lacking:
                problems.append(PropertyProblem(f, name, f"{name!r} has no option {', '.join(lacking)}: "
                                                "those stages will be refused", False))
        elif f == "score" and info.type not in ("number", "string"):
            problems.append(PropertyProblem(f, name, f"{name!r} is a {info.type} property; a score needs "
                                            "a number (or text) property", False))
    return problems


def writeback_problems(settings: Settings, *, hubspot: HubSpotClient | None = None
                       ) -> list[Problem]:
    """``mappings check``'s view of [writeback]: each configured property HubSpot lacks (an
    error: it would be switched off) or cannot hold every stage (a warning). One call."""
    if settings.writeback is None:
        return []
    from connector.engine.wiring import clients

    try:
        found = ContactWriter(hubspot or clients(settings).hubspot).properties()
    except ApiError as exc:        # the rest of the check still has something to say
        return [Problem(0, "writeback.properties", f"could not read HubSpot's contact "
                        f"properties: {exc.message}", "error")]
    return [Problem(0, f"writeback.properties.{p.field} -> HubSpot {p.property}", p.message,
                    "error" if p.switched_off else "warning")
            for p in check_properties(settings.writeback.properties, found)]


class Writeback:
    """The write-back for one configuration, on the caller's clients and state."""

    def __init__(self, settings: Settings, *, hubspot: HubSpotClient, salesforce: SalesforceClient,
                 state: Any, log: Log | None = None) -> None:
        if settings.writeback is None:
            raise ValueError("[writeback] is not configured")
        self.config: WritebackSettings = settings.writeback
        self.hub = hubspot
        self.salesforce = salesforce
        self.state = state
        self.writer = ContactWriter(hubspot)
        self.ledger = WritebackLedger(state)
        self.log = log or (lambda _message: None)
        stages = settings.routing.stages
        self.statuses: StageStatuses = self.config.statuses(
            stages.sales_ready if stages else None, stages.nurture if stages else None)
        if settings.lifecycle is not None and settings.lifecycle.recycled_status:
            # the status a rep recycles with means "recycled" here too (one meaning per status)
            self.statuses = replace(self.statuses, recycled=self.statuses.recycled
                                    | {settings.lifecycle.recycled_status})
        self.names: WritebackProperties = self.config.properties
        self.scoring_off = settings.scoring is None
        self.problems: list[PropertyProblem] = []
        self._checked = False

    # -- the properties ------------------------------------------------------------------
    def check(self) -> list[PropertyProblem]:
        """Read the portal's contact properties once; switch off the unusable configured ones."""
        if not self._checked:
            try:
                found = self.writer.properties()
            except (AuthError, ApiError) as exc:
                # Go on unchecked (HubSpot will refuse what is missing, property by
                # property). Not a scope matter as a rule: the properties reads take either
                # contacts scope among their alternatives (hubspot_scopes), so an app that
                # can write contacts can read their properties.
                self.log(f"writeback: could not read HubSpot's contact properties ({exc.status}); "
                         "writing without the check")
                self._checked = True
                return self.problems
            self.problems = check_properties(self.config.properties, found)
            off = {p.property for p in self.problems if p.switched_off}
            self.names = self.config.properties.without(off)
            for p in self.problems:
                self.log(f"writeback: {p.message}")
            self._checked = True
        return self.problems

    # -- push ----------------------------------------------------------------------------
    def plan(self, rows: Sequence[WritebackRow]) -> tuple[list[ContactChange], int]:
        """The contacts with changed values (and how many rows had none), nothing sent."""
        latest = {r.email.strip().lower(): r for r in rows if r.email and r.email.strip()}
        sent = self.ledger.last_sent(latest)
        changes, unchanged = [], 0
        for email, row in latest.items():
            before = sent.get(email)
            changed = changed_properties(desired_properties(row, self.names),
                                         before.properties if before else None)
            if changed:
                changes.append(ContactChange(email, changed, before.contact_id if before else None))
            else:
                unchanged += 1
        return changes, unchanged

    def push(self, rows: Sequence[WritebackRow], dry_run: bool = False) -> PushCounts:
        """Send the changed values of ``rows`` to HubSpot (nothing at all with ``dry_run``)."""
        calls_before = self.hub.calls
        self.check()
        counts = PushCounts(rows=len(rows))
        changes, counts.unchanged = self.plan(rows)
        if dry_run or not changes:
            counts.sent = len(changes) if dry_run else 0
            counts.calls = self.hub.calls - calls_before
            return counts
        size = self.config.batch_size
        by_id = [c for c in changes if c.contact_id]
        unknown = [c for c in changes if not c.contact_id]
        if unknown and self.config.create_contacts:
            for part in _chunks(unknown, size):
                self._record(part, self.writer.upsert([(c.email, dict(c.properties)) for c in part]),
                             counts, by_email=True)
        elif unknown:
            ids = self.writer.find_ids([c.email for c in unknown])
            counts.missing += sum(1 for c in unknown if c.email not in ids)
            by_id += [replace(c, contact_id=ids[c.email]) for c in unknown if c.email in ids]
        for part in _chunks(by_id, size):
            result = self.writer.update([(str(c.contact_id), dict(c.properties)) for c in part])
            gone = [c.email for c in part if c.contact_id in result.missing]
            self.ledger.forget_ids(gone)         # deleted or merged away: found by email next time
            counts.missing += len(gone)
            self._record(part, result, counts, by_email=False)
        counts.calls = self.hub.calls - calls_before
        return counts

    def _record(self, part: Sequence[ContactChange], result: BatchResult, counts: PushCounts, *,
                by_email: bool) -> None:
        """Keep what HubSpot confirmed; refused properties are named, counted, tried again next push."""
        confirmed: dict[str, tuple[str | None, dict[str, str]]] = {}
        for change in part:
            contact_id = result.ids.get(change.email if by_email else str(change.contact_id))
            if contact_id is None:
                if result.refused and set(change.properties) <= set(result.refused):
                    counts.failed += 1      # every value it needed was refused: nothing was sent
                continue
            kept = {n: v for n, v in change.properties.items() if n not in result.refused}
            confirmed[change.email] = (contact_id, kept)
            if len(kept) < len(change.properties):
                counts.failed += 1
        self.ledger.record(confirmed)
        counts.sent += len(confirmed)
        counts.created += len(result.created)
        for name, code in sorted(result.refused.items()):
            message = f"HubSpot refused values of {name!r} ({code})"
            if message not in counts.problems:
                counts.problems.append(message)
                self.log(f"writeback: {message}")
            if code == "PROPERTY_DOESNT_EXIST":
                self.names = self.names.without({name})

    # -- collect and run -----------------------------------------------------------------
    def people(self) -> Iterator[list[Person]]:
        """Everyone leadsync applied a response to, latest record per email, in rounds."""
        query = ("SELECT lower(trim(email)) AS e, lead_id, contact_id, MAX(submitted_at) AS at FROM ledger "
                 "WHERE status = 'applied' AND email IS NOT NULL AND email != '' "
                 "AND (lead_id IS NOT NULL OR contact_id IS NOT NULL) GROUP BY e ORDER BY e")
        chunk: list[Person] = []
        for row in self.state.db.query(query):
            chunk.append(Person(row["e"], row["lead_id"], row["contact_id"]))
            if len(chunk) >= PEOPLE_PER_ROUND:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def rows_for(self, people: Sequence[Person]) -> list[WritebackRow]:
        """Their current Salesforce records as rows: Leads and Contacts in one composite round,
        won Opportunities of the Contacts' Accounts in a second (a few hundred Ids a query)."""
        lead_ids = sorted({p.lead_id for p in people if p.lead_id and not p.contact_id})
        contact_ids = sorted({p.contact_id for p in people if p.contact_id})
        lead_q = list(chunk_for_query("SELECT {fields} FROM Lead WHERE Id IN {values}", LEAD_FIELDS, lead_ids))
        contact_q = list(chunk_for_query("SELECT {fields} FROM Contact WHERE Id IN {values}",
                                         CONTACT_FIELDS, contact_ids))
        results = self.salesforce.query_many(lead_q + contact_q)
        leads = {r["Id"]: r for rows in results[:len(lead_q)] for r in rows}
        contacts = {r["Id"]: r for rows in results[len(lead_q):] for r in rows}
        accounts = sorted({c["AccountId"] for c in contacts.values() if c.get("AccountId")})
        won: set[str] = set()
        if accounts:
            opp_q = list(chunk_for_query("SELECT {fields} FROM Opportunity WHERE IsWon = true AND AccountId IN "
                                         "{values}", ("AccountId",), accounts))
            won = {r["AccountId"] for rows in self.salesforce.query_many(opp_q) for r in rows}
        held = LifecycleStore(self.state.db).recycled_among(list(leads))   # [lifecycle]'s own
        scores = self._scores(people)                                      # [scoring]'s own
        out: list[WritebackRow] = []
        for p in people:
            if p.contact_id and p.contact_id in contacts:
                c = contacts[p.contact_id]
                facts = RecordFacts(RecordType.CONTACT, account_has_won_opportunity=c.get("AccountId") in won)
                out.append(WritebackRow(p.email, c["Id"], RecordType.CONTACT, None, _owner_email(c),
                                        derive_stage(facts, self.statuses), scores.get(p.email)))
            elif p.lead_id and p.lead_id in leads:
                lead = leads[p.lead_id]
                converted = bool(lead.get("IsConverted"))
                facts = RecordFacts(RecordType.LEAD, lead.get("Status"), converted=converted,
                                    recycled_by_lifecycle=lead["Id"] in held)
                record_id, kind = ((lead["ConvertedContactId"], RecordType.CONTACT)
                                   if converted and lead.get("ConvertedContactId") else (lead["Id"], RecordType.LEAD))
                out.append(WritebackRow(p.email, record_id, kind, lead.get("Status"), _owner_email(lead),
                                        derive_stage(facts, self.statuses), scores.get(p.email)))
            # else: the record is gone from Salesforce (deleted or merged): nothing to say
        return out

    def _scores(self, people: Sequence[Person]) -> dict[str, float]:
        """The score leadsync last computed for each (``leadsync_score``), with ``[scoring]``
        configured; the rescore and the sync keep it current, so a changed one is sent here."""
        if self.scoring_off or not self.names.score:
            return {}
        stored = ScoreStore(self.state).people([p.email for p in people])
        return {s.email.strip().lower(): float(s.score) for s in stored.values() if s.score is not None}

    def run(self, *, dry_run: bool = False, should_stop: Callable[[], bool] = lambda: False) -> "WritebackReport":
        """Collect and push everyone, a round at a time; stops between rounds when asked."""
        sf_before = _sf_calls(self.salesforce)
        total = PushCounts()
        for people in self.people():
            if should_stop():
                break
            counts = self.push(self.rows_for(people), dry_run=dry_run)
            _add(total, counts)
        return WritebackReport(total, list(self.problems), dry_run,
                               salesforce_calls=_sf_calls(self.salesforce) - sf_before)


@dataclass
class WritebackReport:
    counts: PushCounts
    problems: list[PropertyProblem] = field(default_factory=list)
    dry_run: bool = False
    salesforce_calls: int = 0


def _owner_email(record: dict[str, Any]) -> str | None:
    owner = record.get("Owner") or {}
    return owner.get("Email") if isinstance(owner, dict) else None


def _sf_calls(client: SalesforceClient) -> int:
    return int(getattr(client, "calls", 0) or 0)


def _add(total: PushCounts, counts: PushCounts) -> None:
    for name in ("rows", "unchanged", "sent", "created", "missing", "failed", "calls"):
        setattr(total, name, getattr(total, name) + getattr(counts, name))
    total.problems += [p for p in counts.problems if p not in total.problems]


def _chunks(items: Sequence[ContactChange], size: int) -> Iterator[Sequence[ContactChange]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
