"""CampaignMemberStatus rules: each campaign's own picklist of member statuses.

Object Reference, CampaignMemberStatus: a campaign's statuses are records of their own;
"You can't delete a CampaignMemberStatus if that status is designated as the default status
or if the status is currently used in a Campaign"; "Beginning with API version 39.0, at least
one CampaignMemberStatus on each campaign must have a hasResponded value of true" and "there
must be a default CampaignMemberStatus defined for every campaign"; SortOrder is a "Unique
number order where this campaign member status appears in the picklist". The store calls
these checks around its writes; a dataset load (trusted) skips them, as an org's own history
may hold anything. Error codes for the refusals are not documented; the ones used here are
the sandbox's choice (docs/sandbox-org-rules.md, section 2).
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence

from .sf_errors import SfError

__all__ = ["StatusHost", "DEFAULT_STATUSES", "before_write", "before_delete"]

# A new campaign's statuses (Salesforce creates them with the campaign):
# (Label, HasResponded, IsDefault, SortOrder).
DEFAULT_STATUSES: tuple[tuple[str, bool, bool, int], ...] = (
    ("Sent", False, True, 1),
    ("Responded", True, False, 2),
)


class StatusHost(Protocol):
    """What these rules read from the store: the campaign's statuses and its members."""

    def _statuses(self, campaign_id: str) -> list[Any]:
        ...

    def members_of(self, campaign_id: str) -> Sequence[Mapping[str, Any]]:
        ...


def before_write(store: StatusHost, row: dict[str, Any], old: Mapping[str, Any] | None,
                 trusted: bool) -> None:
    """Unique label and sort order per campaign; a campaign keeps a default and a responded one.

    Making another status the default is how the default moves (the old one is cleared after
    the write), so only switching the default off leaves a campaign without one.
    """
    siblings = [s for s in store._statuses(row["CampaignId"]) if s["Id"] != row.get("Id")]
    label = (row.get("Label") or "").lower()
    for other in siblings:
        if (other.get("Label") or "").lower() == label:
            raise SfError("DUPLICATE_VALUE", "duplicate value found: Label duplicates value on "
                          f"record with id: {other['Id']}", [])
    if old is None and row.get("SortOrder") is None:
        row["SortOrder"] = max((s.get("SortOrder") or 0 for s in siblings), default=0) + 1
    if trusted:
        return
    order = row.get("SortOrder")
    if order is not None and (old is None or old.get("SortOrder") != order):
        clash = next((s for s in siblings if s.get("SortOrder") == order), None)
        if clash is not None:
            raise SfError("DUPLICATE_VALUE", "duplicate value found: SortOrder duplicates value "
                          f"on record with id: {clash['Id']}", [])
    if old is None:
        return
    if old.get("IsDefault") and not row.get("IsDefault"):
        raise SfError("FIELD_INTEGRITY_EXCEPTION", "A campaign must have a default member "
                      "status: make another status the default instead.", ["IsDefault"])
    if old.get("HasResponded") and not row.get("HasResponded") \
            and not any(s.get("HasResponded") for s in siblings):
        raise SfError("FIELD_INTEGRITY_EXCEPTION", "At least one member status of a campaign "
                      "must be marked Responded.", ["HasResponded"])


def before_delete(store: StatusHost, row: Mapping[str, Any]) -> None:
    """Refuse to delete the default, a status members have, or the last responded one."""
    if row.get("IsDefault"):
        raise SfError("DELETE_FAILED", "You can't delete the default member status.", [])
    label = (row.get("Label") or "").lower()
    used = sum(1 for m in store.members_of(row["CampaignId"])
               if (m.get("Status") or "").lower() == label)
    if used:
        raise SfError("DELETE_FAILED", f"You can't delete the member status \"{row.get('Label')}\" "
                      f"because {used} campaign member(s) have it.", [])
    others = [s for s in store._statuses(row["CampaignId"]) if s["Id"] != row["Id"]]
    if row.get("HasResponded") and not any(s.get("HasResponded") for s in others):
        raise SfError("DELETE_FAILED", "At least one member status of a campaign must be marked "
                      "Responded.", [])

