"""The plain data that flows between the rooms of leadsync.

Submission (HubSpot's words) -> Response (ours, normalised) -> Match (what Salesforce
already knows about the person) -> Decision (what the method says to do) -> Outcome
(what Salesforce did). Every type is a frozen dataclass so the pure rooms can be tested
by constructing values, with no server and no mocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Mapping


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


class Status(StrEnum):
    PENDING = "pending"   # intent recorded, write not yet confirmed
    APPLIED = "applied"
    FAILED = "failed"


@dataclass(frozen=True)
class Submission:
    """One HubSpot form submission, as the v1 submissions API returns it."""

    conversion_id: str
    form_id: str
    submitted_at: int                      # epoch milliseconds, as HubSpot sends it
    values: Mapping[str, str]
    page_url: str | None = None


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
    reason: str = ""
    error_code: str | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
