"""The org's per-object rules a write runs through: references, required and unique fields,
owners, campaign members and statuses, events, groups and queues.

Split out of ``sf_store``: these are what Salesforce checks and derives on every save of a
record (after the values are coerced, before the row is stored), in Salesforce's order:
system checks, then validation rules, then duplicate rules. Each function takes the store
it checks against; the store calls them from ``create`` and ``update``.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from . import member_status
from .sf_address import sync_addresses
from .sf_coerce import field_label
from .sf_errors import SfError
from .sf_records import OrgStore, Row, Table, WriteOptions
from .sf_schema import ADDRESSES, PREFIXES, ObjectDef

__all__ = ["check_refs", "check_required", "check_unique", "campaign_statuses", "set_responded",
           "after_status_write", "before_write", "check_owner"]


def check_refs(store: OrgStore, obj: ObjectDef, values: Mapping[str, Any],
               opts: WriteOptions) -> None:
    """Lookups point at live records of the right object (INVALID_CROSS_REFERENCE_KEY)."""
    for name, value in values.items():
        fd = obj.fields[name]
        if fd.type != "reference" or value is None:
            continue
        target = PREFIXES.get(value[:3])
        if target is None or (opts.trusted and target == obj.name):
            continue
        table = store.tables[target]
        if value in table.rows:
            continue
        if value in table.deleted:
            raise SfError("ENTITY_IS_DELETED", "entity is deleted", [name])
        raise SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name])


def check_required(obj: ObjectDef, row: Mapping[str, Any]) -> None:
    missing = [f.name for f in obj.fields.values() if f.required and row.get(f.name) is None]
    if obj.name == "CampaignMember" and not row.get("LeadId") and not row.get("ContactId"):
        missing += ["LeadId", "ContactId"]
    if missing:
        raise SfError("REQUIRED_FIELD_MISSING",
                      f"Required fields are missing: [{', '.join(missing)}]", missing)


def check_unique(table: Table, row: Mapping[str, Any]) -> None:
    for fd in table.obj.fields.values():
        if not fd.unique or row.get(fd.name) is None:
            continue
        for other in table.lookup(fd.name, row[fd.name]):
            if other["Id"] != row.get("Id"):
                raise SfError("DUPLICATE_VALUE", f"duplicate value found: {fd.name} "
                              f"duplicates value on record with id: {other['Id']}", [])


# -- object rules -------------------------------------------------------------------
def campaign_statuses(store: OrgStore, campaign_id: str) -> list[Row]:
    rows = store.tables["CampaignMemberStatus"].lookup("CampaignId", campaign_id)
    return sorted(rows, key=lambda r: (r.get("SortOrder") or 0))


def member_rules(store: OrgStore, row: Row, old: Row | None, values: Mapping[str, Any],
                 *, opts: WriteOptions) -> None:
    if old is None:
        lead = store.tables["Lead"].rows.get(row["LeadId"]) if row.get("LeadId") else None
        contact = (store.tables["Contact"].rows.get(row["ContactId"])
                   if row.get("ContactId") else None)
        if lead is not None and lead.get("IsConverted") and not opts.trusted:
            raise SfError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead",
                          ["LeadId"])
        members = store.tables["CampaignMember"]
        for fname, person in (("LeadId", lead), ("ContactId", contact)):
            if person is None:
                continue
            for other in members.lookup(fname, person["Id"]):
                if other["CampaignId"] == row["CampaignId"] and other["Id"] != row.get("Id"):
                    raise SfError("DUPLICATE_VALUE", "Already a campaign member.", [])
        person = contact or lead
        if person is not None:
            row["LeadOrContactId"] = person["Id"]
            row["LeadOrContactOwnerId"] = person.get("OwnerId")
            row["Type"] = "Contact" if contact is not None else "Lead"
            for name in ("FirstName", "LastName", "Name", "Title", "Email"):
                row[name] = person.get(name)
            if contact is not None:
                account = (store.tables["Account"].rows.get(contact["AccountId"])
                           if contact.get("AccountId") else None)
                row["CompanyOrAccount"] = account.get("Name") if account else None
            else:
                row["CompanyOrAccount"] = lead.get("Company") if lead else None
    if old is None or "Status" in values:
        statuses = campaign_statuses(store, row["CampaignId"])
        status = row.get("Status")
        if status is None:
            default = next((s for s in statuses if s.get("IsDefault")),
                           statuses[0] if statuses else None)
            match = default
        else:
            match = next((s for s in statuses if s["Label"].lower() == status.lower()), None)
            if match is None and statuses and not opts.trusted:
                raise SfError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                              f"Status: bad value for restricted picklist field: {status}",
                              ["Status"])
        if match is not None:
            row["Status"] = match["Label"]
            set_responded(store, row, bool(match.get("HasResponded")), opts, explicit=values)


def set_responded(store: OrgStore, row: Row, responded: bool, opts: WriteOptions,
                  *, explicit: Mapping[str, Any] = {}) -> None:
    if opts.trusted and "HasResponded" in explicit:
        return  # a dataset's own flags win
    row["HasResponded"] = responded
    if responded and not row.get("FirstRespondedDate"):
        row["FirstRespondedDate"] = store.today()


def after_status_write(store: OrgStore, row: Row, old: Row | None) -> None:
    """Keep the campaign's single default and its members' Status/HasResponded in step."""
    if row.get("IsDefault"):
        for other in campaign_statuses(store, row["CampaignId"]):
            if other["Id"] != row["Id"] and other.get("IsDefault"):
                store._replace(store.tables["CampaignMemberStatus"], other,
                               {"IsDefault": False})
    if old is None:
        return
    label_changed = old["Label"] != row["Label"]
    if label_changed or bool(old.get("HasResponded")) != bool(row.get("HasResponded")):
        members = store.tables["CampaignMember"]
        for m in members.lookup("CampaignId", row["CampaignId"]):
            if (m.get("Status") or "").lower() != old["Label"].lower():
                continue
            change: dict[str, Any] = {"Status": row["Label"],
                                      "HasResponded": bool(row.get("HasResponded"))}
            if row.get("HasResponded") and not m.get("FirstRespondedDate"):
                change["FirstRespondedDate"] = store.today()
            store._replace(members, m, change)


def before_write(store: OrgStore, obj: ObjectDef, row: Row, old: Row | None,
                 *, values: Mapping[str, Any], opts: WriteOptions) -> None:
    name = obj.name
    if name in ("Lead", "Contact", "User") and (old is None or {"FirstName", "LastName"} & set(
            values)):
        row["Name"] = " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p)
    if not opts.trusted and values.get("OwnerId") is not None:
        check_owner(store, obj, values["OwnerId"])
    if name == "Lead" and opts.auto_assign and not opts.trusted:
        owner = (store.tables["User"].rows.get(store.assignment_owner_id)
                 or store.tables["Group"].rows.get(store.assignment_owner_id))
        if owner is not None:
            row["OwnerId"] = owner["Id"]
    if store.state_country and name in ADDRESSES:
        sync_addresses(obj, row, values)
    if name == "CampaignMember":
        member_rules(store, row, old, values, opts=opts)
    elif name == "CampaignMemberStatus":
        member_status.before_write(store, row, old, opts.trusted)
    elif name == "Task":
        row["IsClosed"] = row.get("Status") == "Completed"
    elif name == "Event":
        event_rules(row)
    elif name == "Opportunity":
        row["IsClosed"] = row.get("StageName") in ("Closed Won", "Closed Lost")
        row["IsWon"] = row.get("StageName") == "Closed Won"
    elif name == "Group":
        group_rules(store, row)
    elif name == "QueueSobject" and old is None:
        queue_sobject_rules(store, row, opts)
    if not opts.trusted:
        # Salesforce's order: system checks, then validation rules, then duplicate rules
        store.validation_rules.check(name, row)
        if name in ("Lead", "Contact"):
            store.duplicate_rules.check(store, name, row, old,
                                        allow_save=opts.allow_duplicates,
                                        record_details=opts.record_details,
                                        api_version=opts.api_version,
                                        same_save=store.same_save or ())


def event_rules(row: Row) -> None:
    """An Event's moment is ActivityDateTime, a.k.a. StartDateTime; one that is not
    all-day needs a length, DurationInMinutes or EndDateTime (Object Reference, Event)."""
    start = row.get("StartDateTime") or row.get("ActivityDateTime")
    row["StartDateTime"] = row["ActivityDateTime"] = start
    if start and not row.get("ActivityDate"):
        row["ActivityDate"] = str(start)[:10]
    if not row.get("IsAllDayEvent"):
        missing = ([] if start else ["ActivityDateTime"]) + (
            [] if row.get("DurationInMinutes") is not None or row.get("EndDateTime")
            else ["DurationInMinutes"])
        if missing:
            raise SfError("REQUIRED_FIELD_MISSING",
                          f"Required fields are missing: [{', '.join(missing)}]", missing)


def check_owner(store: OrgStore, obj: ObjectDef, owner_id: str) -> None:
    """An owner is an active User, or a queue that takes this sObject (QueueSobject).

    Salesforce answers a queue that cannot own the record (a Contact, an Account, a Task,
    or a queue not set up for the object) as it answers a wrong id type. Simplification:
    the active check applies when OwnerId is written, not to every edit of a record an
    inactive user owns.
    """
    if owner_id[:3] == store.objects["User"].key_prefix:
        user = store.tables["User"].rows.get(owner_id)
        if user is not None and not user.get("IsActive"):
            raise SfError("INACTIVE_OWNER_OR_USER", f"operation performed with inactive "
                          f"user [{owner_id}] as owner of {obj.label.lower()}", [])
        return
    if owner_id[:3] == store.objects["Group"].key_prefix:
        group = store.tables["Group"].rows.get(owner_id)
        if group is not None and (group.get("Type") != "Queue"
                                  or obj.name not in store.queue_sobjects(owner_id)):
            fd = obj.fields["OwnerId"]
            raise SfError("FIELD_INTEGRITY_EXCEPTION", f"{field_label(fd)}: id value of "
                          f"incorrect type: {owner_id}", ["OwnerId"])


def group_rules(store: OrgStore, row: Row) -> None:
    """DeveloperName defaults to the Name made an API name, unique in the org."""
    if row.get("DeveloperName"):
        return
    base = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9]", "_", row.get("Name") or "")).strip("_")
    if not base or not base[0].isalpha():
        base = "X" + base
    taken = store.tables["Group"]
    name, n = base[:80], 1
    while any(r["Id"] != row.get("Id") for r in taken.lookup("DeveloperName", name)):
        n += 1
        name = f"{base[:76]}_{n}"
    row["DeveloperName"] = name


def queue_sobject_rules(store: OrgStore, row: Row, opts: WriteOptions) -> None:
    group = store.tables["Group"].rows.get(row["QueueId"])
    if group is not None and group.get("Type") != "Queue" and not opts.trusted:
        raise SfError("FIELD_INTEGRITY_EXCEPTION", "Queue ID: id value of incorrect type: "
                      f"{row['QueueId']}", ["QueueId"])
    if row["SobjectType"] in store.queue_sobjects(row["QueueId"]):
        other = next(r for r in store.tables["QueueSobject"].lookup("QueueId", row["QueueId"])
                     if r["SobjectType"] == row["SobjectType"])
        raise SfError("DUPLICATE_VALUE", "duplicate value found: SobjectType duplicates "
                      f"value on record with id: {other['Id']}", [])
