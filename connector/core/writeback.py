"""Write-back to HubSpot: what a person's HubSpot contact should say, and what changed. (pure)

leadsync hands people to sales in Salesforce; marketing works in HubSpot. So that HubSpot
lists and workflows can nurture recycled people (and marketing sees what became of what it
sent), each person leadsync handed off or attached gets a few properties on their HubSpot
contact: the Salesforce record's Id and type, its Lead Status, its owner's email, a
lifecycle stage and, with scoring, the score.

Three pure steps, each a function here:

1. :func:`derive_stage`: the stage from the Salesforce record and the configured statuses
   (the rule is in its docstring and in the README);
2. :func:`desired_properties`: a :class:`WritebackRow` as HubSpot property values, under the
   configured (renamed) property names, switched-off ones left out;
3. :func:`changed_properties`: only the values that differ from what was last sent, so an
   unchanged person costs no HubSpot call at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Mapping


class Stage(StrEnum):
    """The lifecycle stage written to HubSpot (``leadsync_stage``); values kept exactly."""

    NURTURE = "nurture"
    SALES_READY = "sales_ready"
    WORKING = "working"
    RECYCLED = "recycled"
    CUSTOMER = "customer"


class RecordType(StrEnum):
    LEAD = "Lead"
    CONTACT = "Contact"


@dataclass(frozen=True)
class WritebackRow:
    """One person as HubSpot should see them: the input of ``push`` (the lifecycle pass and
    the collector both build these)."""

    email: str
    salesforce_id: str
    record_type: RecordType
    lead_status: str | None
    owner_email: str | None
    stage: Stage
    score: float | None = None      # None: leadsync has no score for them; the property is left alone
    # The fields this row speaks for (None: all). Scoring, which knows only the score, pushes
    # ``WritebackRow.score_only(email, score)`` and leaves the other properties alone.
    only: frozenset[str] | None = None

    @classmethod
    def score_only(cls, email: str, score: float) -> "WritebackRow":
        return cls(email, "", RecordType.LEAD, None, None, Stage.NURTURE, score, frozenset({"score"}))


# The fields a row carries, by the key an admin names in [writeback.properties].
FIELDS = ("salesforce_id", "salesforce_type", "lead_status", "owner", "stage", "score")
DEFAULT_NAMES: dict[str, str] = {
    "salesforce_id": "leadsync_salesforce_id",
    "salesforce_type": "leadsync_salesforce_type",
    "lead_status": "leadsync_lead_status",
    "owner": "leadsync_owner",
    "stage": "leadsync_stage",
    "score": "leadsync_score",
}


@dataclass(frozen=True)
class WritebackProperties:
    """Field -> HubSpot property name; a field mapped to None is switched off (not written)."""

    salesforce_id: str | None = DEFAULT_NAMES["salesforce_id"]
    salesforce_type: str | None = DEFAULT_NAMES["salesforce_type"]
    lead_status: str | None = DEFAULT_NAMES["lead_status"]
    owner: str | None = DEFAULT_NAMES["owner"]
    stage: str | None = DEFAULT_NAMES["stage"]
    score: str | None = DEFAULT_NAMES["score"]

    def named(self) -> dict[str, str]:
        """The switched-on fields: field -> property name."""
        return {f: name for f in FIELDS if (name := getattr(self, f)) is not None}

    def without(self, property_names: set[str]) -> "WritebackProperties":
        """The same mapping with these HubSpot properties switched off (they are missing)."""
        kept = {f: (None if getattr(self, f) in property_names else getattr(self, f)) for f in FIELDS}
        return WritebackProperties(**kept)


@dataclass(frozen=True)
class StageStatuses:
    """The Lead Status values that name a stage: sales-ready and nurture from
    ``[routing.stages]``, recycled (and further nurture ones) from ``[writeback]``."""

    sales_ready: str | None = None
    nurture: frozenset[str] = frozenset()
    recycled: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RecordFacts:
    """What the stage rule reads from Salesforce about one person's record."""

    record_type: RecordType
    lead_status: str | None = None
    converted: bool = False                 # a Lead that has been converted
    account_has_won_opportunity: bool = False
    # [lifecycle] sent this Lead back to marketing and its come-back date has not come: it
    # carries the nurture status, yet HubSpot must see ``recycled`` (issue 18)
    recycled_by_lifecycle: bool = False


def derive_stage(facts: RecordFacts, statuses: StageStatuses) -> Stage:
    """The stage rule, first match wins:

    1. a converted Lead, or a Contact whose Account has a won Opportunity: ``customer``;
    2. a Lead in a recycled status, or one the lifecycle pass recycled and holds until its
       come-back date: ``recycled`` (sales sent them back to marketing);
    3. a Lead in the sales-ready status: ``sales_ready`` (handed off, not yet touched);
    4. a Lead in a nurture status, or with no status: ``nurture``;
    5. any other Lead status (a rep's "Working", "Contacted", "Unqualified"...): ``working``;
    6. a Contact without a won Opportunity: ``working`` (sales owns the relationship).

    Status comparisons ignore case and surrounding blanks, as Salesforce picklists do.
    """
    if facts.converted or (facts.record_type is RecordType.CONTACT and facts.account_has_won_opportunity):
        return Stage.CUSTOMER
    if facts.record_type is RecordType.CONTACT:
        return Stage.WORKING
    status = _fold(facts.lead_status)
    if facts.recycled_by_lifecycle or (status and status in {_fold(s) for s in statuses.recycled}):
        return Stage.RECYCLED
    if status and statuses.sales_ready and status == _fold(statuses.sales_ready):
        return Stage.SALES_READY
    if not status or status in {_fold(s) for s in statuses.nurture}:
        return Stage.NURTURE
    return Stage.WORKING


def _fold(text: str | None) -> str:
    return (text or "").strip().casefold()


def format_score(score: float) -> str:
    """A number as HubSpot stores it: integers without a trailing ``.0``."""
    return str(int(score)) if float(score).is_integer() else repr(float(score))


def desired_properties(row: WritebackRow, names: WritebackProperties) -> dict[str, str]:
    """The row as HubSpot property values, under the configured names.

    Values are strings, as the CRM v3 API takes them; an unknown value (no owner, no status)
    is the empty string, which clears the property in HubSpot. A row without a score leaves
    the score property out (only scoring sets it).
    """
    values: dict[str, str | None] = {
        "salesforce_id": row.salesforce_id,
        "salesforce_type": row.record_type.value,
        "lead_status": row.lead_status or "",
        "owner": (row.owner_email or "").strip().lower(),
        "stage": row.stage.value,
        "score": None if row.score is None else format_score(row.score),
    }
    out: dict[str, str] = {}
    for f, name in names.named().items():
        if row.only is not None and f not in row.only:
            continue
        value = values[f]
        if value is not None:
            out[name] = value
    return out


def changed_properties(desired: Mapping[str, str], last_sent: Mapping[str, str] | None) -> dict[str, str]:
    """The values to send: those that differ from what HubSpot was last told (all of them
    for a person never sent)."""
    if not last_sent:
        return dict(desired)
    return {name: value for name, value in desired.items() if last_sent.get(name) != value}


@dataclass(frozen=True)
class ContactChange:
    """One contact's part of a push: the values to send, and where to send them."""

    email: str                           # lower-cased: HubSpot keeps contact emails so
    properties: Mapping[str, str]        # only the changed values
    contact_id: str | None = None        # the HubSpot id, when an earlier push learnt it


@dataclass
class PushCounts:
    """What a push did, for the report, the run history and the bench."""

    rows: int = 0               # rows handed to push
    unchanged: int = 0          # nothing to send
    sent: int = 0               # contacts whose changed values HubSpot accepted
    created: int = 0            # contacts created (create_contacts = true)
    missing: int = 0            # no HubSpot contact and create_contacts = false: skipped
    failed: int = 0             # refused by HubSpot (a bad value): counted, retried next push
    calls: int = 0              # HubSpot calls made
    problems: list[str] = field(default_factory=list)   # property-level trouble, by property name

    def as_dict(self) -> dict[str, int]:
        return {"rows": self.rows, "unchanged": self.unchanged, "sent": self.sent,
                "created": self.created, "missing": self.missing, "failed": self.failed,
                "hubspot_calls": self.calls}
