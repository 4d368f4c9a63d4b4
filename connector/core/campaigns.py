"""Can each configured campaign take the members a run would give it?

Every ``[[campaigns]]`` entry names a campaign and the ``member_status`` its form's
responses get. A campaign has its own member statuses (CampaignMemberStatus, one picklist
per campaign), may be inactive or deleted, and an admin may type its name where the Id
belongs. Found mid-sync, each of these fails every membership of the form, after the new
Leads were already created: records with no campaign, parked by the hundred. Found before
any write, the form is paused instead: it creates nothing, the other forms go on, and its
responses wait, unrecorded, until the entry or the campaign is fixed.

Pure: the configured entries and what the org holds in, :class:`CampaignProblem` out. The
read is ``connector.adapters.salesforce.campaigns``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from connector.core.ids import SF_ID, to_id18

CAMPAIGN_PREFIX = "701"     # every Campaign Id starts with it


@dataclass(frozen=True)
class CampaignEntry:
    """One ``[[campaigns]]`` entry, numbered as the config file lists it (from 0)."""

    index: int
    form_id: str
    campaign_id: str
    member_status: str
    statuses: tuple[str, ...] = ()     # an event's member statuses, one per state

    @property
    def key(self) -> str:
        return f"campaigns[{self.index}]"


@dataclass(frozen=True)
class MemberStatus:
    label: str
    has_responded: bool = False
    is_default: bool = False
    sort_order: int = 0                # its place in the campaign's SortOrder


@dataclass(frozen=True)
class CampaignFacts:
    """A campaign as the org holds it: found by Id or by name."""

    id: str
    name: str
    active: bool
    statuses: tuple[MemberStatus, ...] = ()


@dataclass(frozen=True)
class OrgCampaigns:
    """What the read found: campaigns by their 18-character Id, and by lower-cased name for
    the entries whose ``campaign_id`` is not a Campaign Id."""

    by_id: Mapping[str, CampaignFacts]
    by_name: Mapping[str, tuple[CampaignFacts, ...]]


@dataclass(frozen=True)
class CampaignProblem:
    entry: CampaignEntry
    message: str

    def __str__(self) -> str:
        return (f"{self.entry.key} (form {self.entry.form_id}, campaign_id "
                f"{self.entry.campaign_id!r}): {self.message}")

    def to_json(self) -> dict[str, Any]:
        return {"entry": self.entry.key, "form_id": self.entry.form_id,
                "campaign_id": self.entry.campaign_id, "message": str(self)}


def is_campaign_id(text: str) -> bool:
    """Shaped like a Campaign's Id (15 or 18 characters, prefix 701): only such values are
    sent in ``Id IN (...)``, where anything else makes Salesforce refuse the whole query."""
    return bool(SF_ID.match(text)) and text.startswith(CAMPAIGN_PREFIX)


def check_campaigns(entries: Sequence[CampaignEntry], org: OrgCampaigns) -> list[CampaignProblem]:
    """One problem per entry whose form must pause; entries that can take members give none."""
    out = []
    for entry in entries:
        message = _problem(entry, org)
        if message:
            out.append(CampaignProblem(entry, message))
    return out


def _problem(entry: CampaignEntry, org: OrgCampaigns) -> str | None:
    value = entry.campaign_id
    if not is_campaign_id(value):
        named = org.by_name.get(value.casefold(), ())
        if len(named) == 1:
            return (f"{value!r} is a campaign's name, not its Id; set campaign_id = "
                    f"\"{named[0].id}\"")
        if named:
            return (f"{value!r} is the name of {len(named)} campaigns, not an Id; set "
                    f"campaign_id to one of {', '.join(c.id for c in named)}")
        if SF_ID.match(value):
            return f"{value!r} is not a Campaign Id (Campaign Ids start with {CAMPAIGN_PREFIX})"
        return f"{value!r} is neither a Campaign Id nor the name of a campaign in this org"
    campaign = org.by_id.get(to_id18(value))
    if campaign is None:
        return f"no campaign {value} in this org (deleted, or not visible to the integration user)"
    if not campaign.active:
        return (f"campaign {campaign.name!r} is inactive; make it Active (or map the form to "
                "another campaign)")
    labels = [s.label for s in campaign.statuses]
    for wanted in entry.statuses or (entry.member_status,):
        message = _status_problem(campaign, labels, wanted, "statuses" if entry.statuses
                                  else "member_status")
        if message:
            return message
    return None


def _status_problem(campaign: CampaignFacts, labels: list[str], wanted: str, key: str
                    ) -> str | None:
    if wanted in labels:
        return None
    same = [label for label in labels if label.casefold() == wanted.casefold()]
    if same:
        return (f"{key} {wanted!r} differs in case from campaign "
                f"{campaign.name!r}'s status {same[0]!r}; write it as the campaign does")
    return (f"campaign {campaign.name!r} has no member status {wanted!r}; its "
            f"statuses are {', '.join(repr(label) for label in labels) or 'none'}: add it to "
            f"the campaign (Campaign > Advanced Setup) or set {key} to one of them")
