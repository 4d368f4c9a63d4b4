"""Org operations on several records at once: lead conversion and merge.

Split out of ``sf_store``: ``convertLead`` and ``merge`` are not single-record saves but
transactions over a Lead or Contact or Account and everything related to it (accounts,
contacts, opportunities, campaign members, activities), all or nothing through the store's
journal. Each function takes the store it works on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable

from .sf_errors import SfError
from .sf_records import INTERNAL, OrgStore, Row, compact

__all__ = ["convert_lead", "merge"]


def convert_lead(store: OrgStore, lead_id: str, contact_id: str | None = None,
                 account_id: str | None = None, *, opportunity_name: str | None = None
                 ) -> dict[str, Any]:
    """Convert a Lead as Salesforce's convertLead does. No opportunity is created unless
    ``opportunity_name`` is given (convertLead's ``doNotCreateOpportunity`` false and its
    ``opportunityName``): then one at the Account, "Prospecting", closing in 30 days, and
    the Lead's ``ConvertedOpportunityId`` names it.

    The lead's campaign memberships move to the contact (ContactId is set on them)
    unless the contact is already a member of that campaign.
    """
    lead = store.live("Lead", lead_id)
    if lead.get("IsConverted"):
        raise SfError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])
    mark = store.mark()
    owner = lead.get("OwnerId")
    if owner is None or owner not in store.tables["User"].rows:
        # a queue cannot own the Account or Contact; convertLead then needs an owner,
        # and the sandbox names the running user
        owner = store.api_user_id
    try:
        contact = store.live("Contact", contact_id) if contact_id else None
        if account_id:
            account_id = store.live("Account", account_id)["Id"]
        elif contact is not None and contact.get("AccountId"):
            account_id = contact["AccountId"]
        else:
            account_id = store.create("Account", compact({
                "Name": lead.get("Company"), "Website": lead.get("Website"),
                "Industry": lead.get("Industry"), "Phone": lead.get("Phone"),
                "BillingCountry": lead.get("Country"), "BillingCity": lead.get("City"),
                "OwnerId": owner}), INTERNAL)
        if contact is None:
            contact_id = store.create("Contact", compact({
                "AccountId": account_id, "FirstName": lead.get("FirstName"),
                "LastName": lead.get("LastName"), "Email": lead.get("Email"),
                "Phone": lead.get("Phone"), "MobilePhone": lead.get("MobilePhone"),
                "Title": lead.get("Title"), "LeadSource": lead.get("LeadSource"),
                "MailingCountry": lead.get("Country"), "MailingCity": lead.get("City"),
                "HasOptedOutOfEmail": lead.get("HasOptedOutOfEmail"),
                "OwnerId": owner}), INTERNAL)
        else:
            contact_id = contact["Id"]
        opportunity_id = None
        if opportunity_name:
            opportunity_id = store.create("Opportunity", compact({
                "Name": opportunity_name, "AccountId": account_id, "OwnerId": owner,
                "StageName": "Prospecting", "LeadSource": lead.get("LeadSource"),
                "CloseDate": (datetime.fromisoformat(store.today()) + timedelta(days=30)).date()
                .isoformat()}), INTERNAL)
        store._replace(store.tables["Lead"], lead, {
            "ConvertedOpportunityId": opportunity_id,
            "IsConverted": True, "ConvertedContactId": contact_id,
            "ConvertedAccountId": account_id, "ConvertedDate": store.today(),
            "Status": "Closed - Converted"})
        members = store.tables["CampaignMember"]
        contact_row = store.tables["Contact"].rows[contact_id]
        for m in members.lookup("LeadId", lead["Id"]):
            taken = any(o["CampaignId"] == m["CampaignId"]
                        for o in members.lookup("ContactId", contact_id))
            if not taken and not m.get("ContactId"):
                store._replace(members, m, {"ContactId": contact_id, "Type": "Contact",
                                            "LeadOrContactId": contact_id,
                                            "Email": contact_row.get("Email")})
    except Exception:
        store.rollback(mark)
        raise
    return {"leadId": lead["Id"], "contactId": contact_id, "accountId": account_id,
            "opportunityId": opportunity_id, "success": True}


# -- merge --------------------------------------------------------------------------
def merge(store: OrgStore, sobject: str, master_id: str,
          loser_ids: Iterable[str]) -> dict[str, Any]:
    """Merge up to two records into a master, as SOAP ``merge()`` and Apex ``merge`` do.

    Salesforce's REST API has no merge resource, so this backs an admin endpoint. The
    losers are deleted with ``MasterRecordId`` set to the master: gone from ``query``,
    kept in the recycle bin where ``queryAll`` sees them. Their related records move to
    the master; a CampaignMember whose campaign the master is already in is deleted
    instead (one member per campaign and record). All or nothing.
    """
    name = store.sobject_name(sobject)
    reparent = _MERGE_REPARENT.get(name or "")
    if name is None or reparent is None:
        raise SfError("INVALID_TYPE", f"merge is supported for Lead, Contact and Account, "
                      f"not {sobject}", [])
    table = store.tables[name]
    master = store.live(name, master_id)
    losers = [store.live(name, rid) for rid in dict.fromkeys(loser_ids)]
    if not losers:
        raise SfError("INVALID_ID_FIELD", "merge needs at least one record to merge into "
                      "the master", [])
    if len(losers) > 2:
        raise SfError("LIMIT_EXCEEDED", "Up to three records can be merged in a single "
                      "request, including the master record", [])
    if any(r["Id"] == master["Id"] for r in losers):
        raise SfError("INVALID_ID_FIELD", "the master record cannot be merged into itself", [])
    if any(r.get("IsConverted") for r in [master, *losers]):
        raise SfError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])
    mark = store.mark()
    updated: list[str] = []
    try:
        for loser in losers:
            for child, fname in reparent:
                updated += _reparent(store, child, fname, old_id=loser["Id"], new_id=master["Id"])
            store._remove(table, table.rows[loser["Id"]], master_id=master["Id"])
        store._replace(table, table.rows[master["Id"]], {})
    except Exception:
        store.rollback(mark)
        raise
    return {"id": master["Id"], "mergedRecordIds": [r["Id"] for r in losers],
            "updatedRelatedIds": updated, "success": True, "errors": []}


def _reparent(store: OrgStore, child: str, fname: str, *, old_id: str, new_id: str) -> list[str]:
    """Point a merged loser's related records at the master; return the moved ids."""
    table = store.tables[child]
    moved = []
    for row in table.lookup(fname, old_id):
        if child == "CampaignMember":
            if any(o["CampaignId"] == row["CampaignId"] for o in table.lookup(fname, new_id)):
                store._delete_row(table, row)     # the master's own membership stays
                continue
            changes = {fname: new_id, **member_person(store, row, fname, new_id)}
        else:
            changes = {fname: new_id}
        store._replace(table, row, changes)
        moved.append(row["Id"])
    return moved


def member_person(store: OrgStore, member: Row, fname: str, person_id: str) -> dict[str, Any]:
    """A member's copied person fields after its Lead or Contact changed to ``person_id``."""
    if fname == "LeadId" and member.get("ContactId"):
        return {}  # a converted Lead's member reads its Contact, which did not change
    person = store.tables["Lead" if fname == "LeadId" else "Contact"].rows[person_id]
    out = {name: person.get(name) for name in ("FirstName", "LastName", "Name", "Title", "Email")}
    out.update({"LeadOrContactId": person_id, "LeadOrContactOwnerId": person.get("OwnerId")})
    if fname == "LeadId":
        out["CompanyOrAccount"] = person.get("Company")
    else:
        account = (store.tables["Account"].rows.get(person["AccountId"])
                   if person.get("AccountId") else None)
        out["CompanyOrAccount"] = account.get("Name") if account else None
    return out


# What a merge moves from each loser to the master: (child object, its lookup field).
_MERGE_REPARENT: dict[str, list[tuple[str, str]]] = {
    "Lead": [("CampaignMember", "LeadId"), ("Task", "WhoId"), ("Event", "WhoId")],
    "Contact": [("CampaignMember", "ContactId"), ("Task", "WhoId"), ("Event", "WhoId")],
    "Account": [("Contact", "AccountId"), ("Task", "WhatId"), ("Event", "WhatId")],
}
