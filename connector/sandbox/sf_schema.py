"""The emulated org's metadata: standard objects, their fields, key prefixes and record ids.

Kept apart from the record store so that describe, validation and SOQL all read one
definition of "what a Lead is". Field lengths, required-ness and createable/updateable flags
follow the standard objects of a Salesforce org (API 59.0), trimmed to the fields a
marketing-to-sales connector meets.

This module keeps ``ObjectDef``, the standard objects' table and the org's custom fields;
the rest lives beside it: ``sf_ids`` (record ids and key prefixes' suffixes), ``sf_fields``
(``FieldDef``, field types and describe), ``sf_std_objects`` (the standard objects' field
lists) and ``sf_countries`` (State and Country/Territory Picklists). Every name other
modules import from here is re-exported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from .sf_countries import ADDRESSES, address_code_fields
from .sf_fields import STRING_TYPES, TYPES, _TYPE_ALIASES, FieldDef, _label
from .sf_std_objects import (ACCOUNT, CAMPAIGN, CAMPAIGN_MEMBER, CAMPAIGN_MEMBER_STATUS, CONTACT,
                             EVENT, GROUP, LEAD, OPPORTUNITY, QUEUE_SOBJECT, TASK, USER)

# Names other modules import from here, re-exported from where they now live.
from .sf_countries import COUNTRIES as COUNTRIES, COUNTRY_BY_NAME as COUNTRY_BY_NAME
from .sf_countries import STATES as STATES, valid_for as valid_for
from .sf_ids import POD as POD, id_number as id_number, id_suffix as id_suffix
from .sf_ids import make_id as make_id, to_id18 as to_id18
from .sf_std_objects import GROUP_TYPES as GROUP_TYPES, LEAD_STATUSES as LEAD_STATUSES
from .sf_std_objects import OPPORTUNITY_STAGES as OPPORTUNITY_STAGES
from .sf_std_objects import QUEUE_SOBJECTS as QUEUE_SOBJECTS


@dataclass
class ObjectDef:
    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: dict[str, FieldDef] = field(default_factory=dict)      # canonical name -> def
    _lower: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lower = {n.lower(): n for n in self.fields}

    def add(self, fd: FieldDef) -> None:
        self.fields[fd.name] = fd
        self._lower[fd.name.lower()] = fd.name

    def remove(self, name: str) -> None:
        fd = self.field(name)
        if fd is not None:
            del self.fields[fd.name]
            del self._lower[fd.name.lower()]

    def field(self, name: str) -> FieldDef | None:
        canonical = self._lower.get(name.lower()) if isinstance(name, str) else None
        return self.fields[canonical] if canonical else None

    def types(self) -> dict[str, str]:
        """Canonical field name -> type, the schema the SOQL evaluator takes."""
        return {n: ("string" if f.type == "combobox" else f.type) for n, f in self.fields.items()}

    def copy(self) -> "ObjectDef":
        return ObjectDef(self.name, self.label, self.label_plural, self.key_prefix,
                         dict(self.fields))


STANDARD: dict[str, tuple[str, str, str, list[FieldDef]]] = {
    "User": ("User", "Users", "005", USER),
    "Group": ("Group", "Groups", "00G", GROUP),
    "QueueSobject": ("Queue Sobject", "Queue Sobjects", "03g", QUEUE_SOBJECT),
    "Account": ("Account", "Accounts", "001", ACCOUNT),
    "Contact": ("Contact", "Contacts", "003", CONTACT),
    "Lead": ("Lead", "Leads", "00Q", LEAD),
    "Campaign": ("Campaign", "Campaigns", "701", CAMPAIGN),
    "CampaignMemberStatus": ("Campaign Member Status", "Campaign Member Statuses", "01Y",
                             CAMPAIGN_MEMBER_STATUS),
    "CampaignMember": ("Campaign Member", "Campaign Members", "00v", CAMPAIGN_MEMBER),
    "Task": ("Task", "Tasks", "00T", TASK),
    "Event": ("Event", "Events", "00U", EVENT),
    "Opportunity": ("Opportunity", "Opportunities", "006", OPPORTUNITY),
}
# The order above is also the load order: every reference points to an earlier object
# (but Lead.ConvertedOpportunityId, read-only: a loaded Lead is never converted).
LOAD_ORDER = tuple(STANDARD)
PREFIXES = {v[2]: k for k, v in STANDARD.items()}

EXTERNAL_ID_FIELD = "Leadsync_Response_Id__c"


def recommended_field() -> FieldDef:
    """The external id leadsync recommends for idempotent upserts (Text 255, External ID, Unique)."""
    return FieldDef(EXTERNAL_ID_FIELD, "string", label="Leadsync Response Id", length=255,
                    external_id=True, unique=True, custom=True)


# On Task too, so a response's follow-up Task can be an idempotent upsert.
DEFAULT_CUSTOM = {"Lead": [recommended_field()], "CampaignMember": [recommended_field()],
                  "Task": [recommended_field()]}


def custom_field(sobject: str, name: str, spec: Mapping[str, Any]) -> FieldDef:
    """Build a custom field from a dataset's schema entry; raise ValueError when it is wrong."""
    if not name.endswith("__c") or not re.match(r"^[A-Za-z][A-Za-z0-9_]*__c$", name):
        raise ValueError(f"{sobject}.{name}: custom field names end in __c")
    ftype = str(spec.get("type", "string")).lower()
    ftype = _TYPE_ALIASES.get(ftype, ftype)
    if ftype not in TYPES or ftype == "id":
        raise ValueError(f"{sobject}.{name}: unknown field type {spec.get('type')!r}")
    length = int(spec.get("length", 255 if ftype in STRING_TYPES else 0))
    if ftype == "textarea":
        length = int(spec.get("length", 32768))
    ref_to = spec.get("referenceTo") or ()
    if isinstance(ref_to, str):
        ref_to = (ref_to,)
    values = tuple(v["value"] if isinstance(v, Mapping) else str(v)
                   for v in spec.get("picklistValues", ()))
    return FieldDef(name, ftype, label=str(spec.get("label") or _label(name)), length=length,
                    nillable=not spec.get("required", False), required=bool(spec.get("required")),
                    default=spec.get("defaultValue", False if ftype == "boolean" else None),
                    picklist=values, restricted=bool(spec.get("restricted", False)),
                    reference_to=tuple(ref_to), external_id=bool(spec.get("externalId", False)),
                    unique=bool(spec.get("unique", False)), custom=True)


def build_objects(custom: Mapping[str, Mapping[str, Mapping[str, Any] | None]] | None = None,
                  state_country: bool = False) -> dict[str, ObjectDef]:
    """Standard objects plus the default and the dataset's custom fields.

    A dataset field replaces a default one of the same name (``Leadsync_Response_Id__c`` on
    Task as a plain text field, say); ``null`` deletes it, as an admin deletes a custom field
    in Setup (an org without the field). ``state_country`` adds the address code picklists
    (State and Country/Territory Picklists).
    """
    out: dict[str, ObjectDef] = {}
    for name, (label, plural, prefix, fields) in STANDARD.items():
        obj = ObjectDef(name, label, plural, prefix, {f.name: f for f in fields})
        for fd in DEFAULT_CUSTOM.get(name, ()):
            obj.add(fd)
        if state_country:
            for address in ADDRESSES.get(name, ()):
                for fd in address_code_fields(address):
                    obj.add(fd)
        out[name] = obj
    lowered = {n.lower(): n for n in out}
    for sobject, specs in (custom or {}).items():
        canonical = lowered.get(sobject.lower())
        if canonical is None:
            raise ValueError(f"schema: unknown sObject {sobject!r} (custom objects are not emulated)")
        for fname, spec in specs.items():
            if spec is None:
                existing = out[canonical].field(fname)
                if existing is None or not existing.custom:
                    raise ValueError(f"{canonical}.{fname}: only a custom field can be deleted")
                out[canonical].remove(existing.name)
                continue
            out[canonical].add(custom_field(canonical, fname, spec))
    return out


def custom_schema_dump(objects: Mapping[str, ObjectDef]
                       ) -> dict[str, dict[str, dict[str, Any] | None]]:
    """The dataset ``schema`` section that rebuilds these custom fields (a deleted default
    field as ``null``)."""
    out: dict[str, dict[str, dict[str, Any] | None]] = {}
    for name, obj in objects.items():
        for default in DEFAULT_CUSTOM.get(name, ()):
            if obj.field(default.name) is None:
                out.setdefault(name, {})[default.name] = None
        for fd in obj.fields.values():
            if not fd.custom:
                continue
            spec: dict[str, Any] = {"type": fd.type, "externalId": fd.external_id,
                                    "unique": fd.unique, "label": fd.label}
            if fd.length:
                spec["length"] = fd.length
            if fd.picklist:
                spec["picklistValues"] = list(fd.picklist)
            if fd.reference_to:
                spec["referenceTo"] = list(fd.reference_to)
            if fd.required:
                spec["required"] = True
            out.setdefault(name, {})[fd.name] = spec
    return out
