"""The plain data that flows between the rooms of leadsync.

Submission (HubSpot's words) -> Response (ours, normalised) -> Match (what Salesforce
already knows about the person) -> Decision (what the method says to do) -> Outcome
(what Salesforce did). Every type is a frozen dataclass so the pure rooms can be tested
by constructing values, with no server and no mocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from connector.core.enrich.scoring import Score


class Method(StrEnum):
    POI = "poi"
    HYBRID = "hybrid"
    UNIQUE = "unique"


class Action(StrEnum):
    CREATE_LEAD = "create_lead"        # a new Lead, plus its CampaignMember
    ATTACH_LEAD = "attach_lead"        # a CampaignMember on an existing (or run-created) Lead
    ATTACH_CONTACT = "attach_contact"  # a CampaignMember on an existing Contact
    CREATE_CONTACT = "create_contact"  # unique: a new person at a matched Account -> a Contact there
    FAILED = "failed"                  # not applied; parked with a reason


class MemberAction(StrEnum):
    """What a response does about its campaign membership."""

    CREATE = "create"      # a new CampaignMember
    EXISTS = "exists"      # already a member (in Salesforce, or through an earlier response)
    UPDATE = "update"      # a member that has not responded yet moves to the form's status
    NONE = "none"          # no membership: the response failed


class Status(StrEnum):
    PENDING = "pending"   # intent recorded, write not yet confirmed
    APPLIED = "applied"
    FAILED = "failed"
    DISMISSED = "dismissed"   # parked, then dismissed by an admin with a note: never retried


@dataclass(frozen=True)
class Submission:
    """One response as its source hands it over: a form submission (as the v1 submissions
    API returns it), a marketing event participation, or a meeting booked.

    ``form_id`` is the response's *stream* (a form's guid, ``event:<objectId>``,
    ``meetings``: ``connector.config.sources``); the name stays the ledger column's.
    """

    # HubSpot's conversionId, until the submission enters a run; from there its key, which
    # is the same unless another form owns the id (connector.core.keys).
    conversion_id: str
    form_id: str
    submitted_at: int                      # epoch milliseconds, as HubSpot sends it
    values: Mapping[str, str]
    page_url: str | None = None
    # What happened, for a source whose responses differ by it: a participation's state
    # ("registered", "attended", "no_show", "cancelled") or "meeting"; "" for a form fill.
    kind: str = ""


@dataclass(frozen=True)
class Response:
    """A marketing response ready for Salesforce: normalised person + where it lands."""

    conversion_id: str
    form_id: str
    submitted_at: int
    email: str                             # trimmed, lower-cased
    lead_fields: Mapping[str, str]         # Salesforce Lead field -> value
    campaign_id: str
    member_status: str
    contact_fields: Mapping[str, str] = field(default_factory=dict)  # Contact field -> value
    form_values: Mapping[str, str] = field(default_factory=dict)     # cleaned form values, lower-case names
    notes: tuple[str, ...] = ()            # what the mapping dropped or changed, in an admin's words
    page_url: str | None = None            # the page the form was on ([scoring] page rules)
    # The fields ("Lead.Phone") whose answers the mapping could not place and left out (the
    # ``notes`` say why, with the answer): the ledger keeps these names, not the answers.
    left_out: tuple[str, ...] = ()


@dataclass(frozen=True)
class Record:
    """A Salesforce Lead or Contact as far as resolution needs it."""

    id: str
    sobject: str                           # "Lead" or "Contact"
    email: str
    created: str = ""                      # CreatedDate, ISO; orders "oldest" deterministically
    external_id: str | None = None         # the Lead's leadsync response id, when configured


@dataclass(frozen=True)
class Match:
    """What Salesforce holds for one email, after the configured tie-break."""

    email: str
    lead: Record | None = None
    contact: Record | None = None
    lead_count: int = 0
    contact_count: int = 0
    note: str = ""                         # how a tie was broken, for the ledger and dry-run


@dataclass(frozen=True)
class Target:
    """The record a response's CampaignMember goes on.

    ``new_lead_of`` names the response (conversion id) whose new Lead this is, for a Lead
    that an earlier response of the same run creates and that has no Id yet.
    """

    sobject: str                           # "Lead" or "Contact"
    id: str | None = None
    new_lead_of: str | None = None


@dataclass(frozen=True)
class Decision:
    response: Response | None
    conversion_id: str
    action: Action
    target: Target | None = None
    reason: str = ""                       # why, in an admin's words
    error_code: str | None = None


@dataclass(frozen=True)
class OwnerPick:
    id: str | None
    rule: int | str | None        # the routing rule's number, or "account owner"


@dataclass(frozen=True)
class AccountPick:
    id: str
    name: str
    how: str                      # "domain" | "company"


@dataclass(frozen=True)
class TaskPick:
    due: str | None
    owner: str | None


@dataclass
class Enrichment:
    """What shaping decided beyond the method: owner, matched Account, stage, follow-up
    Task, the fields an update changes. Shown by --dry-run, kept by the ledger (names of
    changed fields only: the ledger is an audit of decisions, not a copy of people's data)."""

    owner: OwnerPick | None = None
    account: AccountPick | None = None
    stage: str | None = None
    task: TaskPick | None = None
    changed_fields: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.owner or self.account or self.stage or self.task or self.changed_fields)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.account is not None:
            out["account"] = {"id": self.account.id, "name": self.account.name, "how": self.account.how}
        if self.owner is not None:
            out["owner"] = {"id": self.owner.id, "rule": self.owner.rule}
        if self.stage:
            out["stage"] = self.stage
        if self.task is not None:
            out["task"] = {"due": self.task.due, "owner": self.task.owner}
        if self.changed_fields:
            out["changed_fields"] = list(self.changed_fields)
        return out


@dataclass
class Outcome:
    """What became of one response after the write (mutable while a batch is applied)."""

    conversion_id: str
    form_id: str
    submitted_at: int
    email: str
    action: Action
    status: Status
    lead_id: str | None = None
    contact_id: str | None = None
    member_id: str | None = None
    campaign_id: str | None = None
    member_existed: bool = False
    member_moved: bool = False        # its existing membership's status moved forward
    reason: str = ""
    error_code: str | None = None
    error: str | None = None
    enrichment: Enrichment = field(default_factory=Enrichment)
    task_id: str | None = None
    score: "Score | None" = None      # [scoring]: the score an applied response made (the ledger keeps it)
    left_out: tuple[str, ...] = ()    # fields the mapping left out of this response ("Lead.Phone")
