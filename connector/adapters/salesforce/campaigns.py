"""The configured campaigns and their member statuses, read before any write.

Every run, dry run and ``mappings check`` asks the org, in one composite call, for the
campaigns the config names and each one's CampaignMemberStatus rows; the pure check
(``connector.core.campaigns``) decides which forms must pause. Two queries rather than one
with a ``CampaignMemberStatuses`` subquery: the same single call either way, and plain
queries on both objects work in every org and in the sandbox.

An entry whose ``campaign_id`` is not shaped like a Campaign Id (an admin typed the name)
is looked up by ``Name`` instead: putting it in ``Id IN (...)`` would make Salesforce
refuse the whole query ("invalid ID field") and hide the other campaigns' answers.
"""

from __future__ import annotations

from typing import Any, Sequence

from simple_salesforce import format_soql

from connector.ports import Crm
from connector.config.settings import CampaignMap
from connector.core.campaigns import (CampaignEntry, CampaignFacts, CampaignProblem, MemberStatus,
                                      OrgCampaigns, check_campaigns, is_campaign_id)
from connector.core.ids import to_id18


def campaign_entries(campaigns: Sequence[CampaignMap]) -> list[CampaignEntry]:
    """The config's ``[[campaigns]]`` as the core checks them, numbered as in the file."""
    return [CampaignEntry(i, c.form_id, c.campaign_id, c.member_status,
                          c.statuses.labels() if c.statuses else ())
            for i, c in enumerate(campaigns)]


def read_campaigns(client: Crm, entries: Sequence[CampaignEntry]) -> OrgCampaigns:
    """The campaigns ``entries`` name, with their statuses: one composite call."""
    statements = campaign_statements(entries)
    return campaigns_from(entries, client.query_many(statements) if statements else [])


def campaign_statements(entries: Sequence[CampaignEntry]) -> list[str]:
    """The queries :func:`read_campaigns` sends, for a caller that sends them in a composite
    call of its own (``reconcile`` adds them to its first read: no call of their own)."""
    ids, names = _ids_and_names(entries)
    statements: list[str] = []
    if ids:
        statements.append(format_soql("SELECT Id, Name, IsActive FROM Campaign WHERE Id IN {}", ids))
        statements.append(format_soql(
            "SELECT CampaignId, Label, HasResponded, IsDefault FROM CampaignMemberStatus "
            "WHERE CampaignId IN {} ORDER BY CampaignId, SortOrder", ids))
    if names:
        statements.append(format_soql("SELECT Id, Name, IsActive FROM Campaign WHERE Name IN {}",
                                      names))
    return statements


def campaigns_from(entries: Sequence[CampaignEntry], results: Sequence[Sequence[dict[str, Any]]]
                   ) -> OrgCampaigns:
    """What the org holds, from the rows of :func:`campaign_statements`, in their order."""
    ids, names = _ids_and_names(entries)
    statuses: dict[str, list[MemberStatus]] = {}
    by_id: dict[str, CampaignFacts] = {}
    if ids:
        for row in results[1]:   # ORDER BY CampaignId, SortOrder: a campaign's rows in its order
            rows = statuses.setdefault(to_id18(str(row["CampaignId"])), [])
            rows.append(MemberStatus(str(row.get("Label") or ""), bool(row.get("HasResponded")),
                                     bool(row.get("IsDefault")), len(rows)))
        for row in results[0]:
            facts = _facts(row, statuses.get(to_id18(str(row["Id"])), []))
            by_id[to_id18(facts.id)] = facts
    by_name: dict[str, tuple[CampaignFacts, ...]] = {}
    for row in results[-1] if names else []:
        facts = _facts(row, [])
        by_name[facts.name.casefold()] = (*by_name.get(facts.name.casefold(), ()), facts)
    return OrgCampaigns(by_id, by_name)


def _ids_and_names(entries: Sequence[CampaignEntry]) -> tuple[list[str], list[str]]:
    ids = sorted({to_id18(e.campaign_id) for e in entries if is_campaign_id(e.campaign_id)})
    names = sorted({e.campaign_id for e in entries if not is_campaign_id(e.campaign_id)})
    return ids, names


def campaign_problems(client: Crm, campaigns: Sequence[CampaignMap]
                      ) -> list[CampaignProblem]:
    """Which configured entries cannot take members now, and why (one call)."""
    entries = campaign_entries(campaigns)
    return check_campaigns(entries, read_campaigns(client, entries))


def _facts(row: dict[str, Any], statuses: list[MemberStatus]) -> CampaignFacts:
    return CampaignFacts(str(row["Id"]), str(row.get("Name") or ""), bool(row.get("IsActive")),
                         tuple(statuses))
