"""The emulated org's metadata: standard objects, their fields, key prefixes and record ids.

Kept apart from the record store so that describe, validation and SOQL all read one
definition of "what a Lead is". Field lengths, required-ness and createable/updateable flags
follow the standard objects of a Salesforce org (API 59.0), trimmed to the fields a
marketing-to-sales connector meets.
"""

from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

# -- ids -------------------------------------------------------------------------------

_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")
POD = "8c0"  # two pod characters and the reserved one, as in 00Q8c0000012345AAA


def id_suffix(id15: str) -> str:
    """The 3-character case checksum Salesforce appends to a 15-character id."""
    out = []
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(id15[chunk * 5:chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        out.append(_SUFFIX_CHARS[bits])
    return "".join(out)


@lru_cache(maxsize=262_144)
def to_id18(value: str) -> str | None:
    """Return the 18-character form of a 15/18-character id, or None when malformed."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        return None
    if len(value) == 18:
        # Salesforce accepts an 18-char id whose suffix differs only in case of the suffix;
        # a wrong checksum means the first 15 characters were mangled.
        return value if id_suffix(value[:15]) == value[15:].upper() else None
    return value + id_suffix(value)


def make_id(prefix: str, number: int) -> str:
    digits = []
    n = number
    for _ in range(9):
        n, r = divmod(n, 62)
        digits.append(_BASE62[r])
    id15 = prefix + POD + "".join(reversed(digits))
    return id15 + id_suffix(id15)


def id_number(id18: str, prefix: str) -> int | None:
    """The counter inside an id this sandbox generated, so loaded ids never collide."""
    if not id18.startswith(prefix + POD):
        return None
    n = 0
    for ch in id18[6:15]:
        n = n * 62 + _BASE62.index(ch)
    return n


# -- fields ----------------------------------------------------------------------------

STRING_TYPES = {"string", "textarea", "email", "phone", "url", "picklist", "combobox"}
TYPES = STRING_TYPES | {"id", "reference", "boolean", "int", "double", "currency", "percent",
                        "date", "datetime"}
_TYPE_ALIASES = {"text": "string", "longtextarea": "textarea", "checkbox": "boolean",
                 "number": "double", "integer": "int", "long": "int"}
_SOAP_TYPES = {"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "int": "xsd:int",
               "double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double",
               "date": "xsd:date", "datetime": "xsd:dateTime"}


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    label: str = ""
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    required: bool = False          # REQUIRED_FIELD_MISSING on create when absent
    default: Any = None             # applied on create when the field is absent
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    reference_to: tuple[str, ...] = ()
    external_id: bool = False
    unique: bool = False
    custom: bool = False
    name_field: bool = False
    picklist_labels: tuple[str, ...] = ()   # parallel to picklist when labels differ (ISO codes)
    controller: str | None = None           # a dependent picklist's controlling field
    valid_for: tuple[str, ...] = ()         # parallel to picklist: base64 bitmaps over controller

    def describe(self) -> dict[str, Any]:
        """The field entry of a describe result, with the keys clients read."""
        is_string = self.type in STRING_TYPES
        return {
            "aggregatable": self.type not in ("textarea", "boolean"),
            "autoNumber": False,
            "byteLength": self.length * 3 if is_string or self.type in ("id", "reference") else 0,
            "calculated": False,
            "caseSensitive": False,
            "controllerName": self.controller,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": self.default if self.type == "boolean" else None,
            "defaultedOnCreate": self.default is not None or self.name in _DEFAULTED,
            "dependentPicklist": self.controller is not None,
            "digits": 9 if self.type == "int" else 0,
            "externalId": self.external_id,
            "filterable": self.type != "textarea",
            "groupable": self.type not in ("textarea", "double", "currency", "percent"),
            "idLookup": self.type == "id" or self.external_id or self.name in ("Email", "Name"),
            "label": self.label or _label(self.name),
            "length": self.length if is_string else 0,
            "name": self.name,
            "nameField": self.name_field,
            "nillable": self.nillable,
            "picklistValues": [
                {"active": True, "defaultValue": v == self.default,
                 "label": self.picklist_labels[i] if self.picklist_labels else v,
                 "validFor": self.valid_for[i] if self.valid_for else None,
                 "value": v} for i, v in enumerate(self.picklist)],
            "precision": 18 if self.type in ("double", "currency", "percent") else 0,
            "referenceTo": list(self.reference_to),
            "relationshipName": (self.name[:-2] if self.type == "reference" and
                                 self.name.endswith("Id") else None),
            "restrictedPicklist": self.restricted,
            "scale": 2 if self.type in ("currency", "percent") else (
                0 if self.type != "double" else 6),
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "sortable": self.type != "textarea",
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
        }


_DEFAULTED = {"Id", "OwnerId", "CreatedDate", "CreatedById", "LastModifiedDate",
              "LastModifiedById", "SystemModstamp", "IsDeleted"}


def _label(name: str) -> str:
    base = name[:-3] if name.endswith("__c") else name
    base = base[:-2] if base.endswith("Id") and len(base) > 2 else base
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", base).replace("_", " ").strip()


def _s(name: str, length: int, **kw: Any) -> FieldDef:
    return FieldDef(name, kw.pop("type", "string"), length=length, **kw)


def _ref(name: str, *to: str, **kw: Any) -> FieldDef:
    return FieldDef(name, "reference", length=18, reference_to=to, **kw)


def _ro(fd: FieldDef) -> FieldDef:
    return replace(fd, createable=False, updateable=False)


def _pick(name: str, values: Iterable[str], length: int = 255, **kw: Any) -> FieldDef:
    return FieldDef(name, "picklist", length=length, picklist=tuple(values), **kw)


def _system(owner: bool = True, owner_to: tuple[str, ...] = ("User",),
            owner_label: str = "Owner ID") -> list[FieldDef]:
    out = [FieldDef("Id", "id", label="Record ID", length=18, nillable=False, createable=False,
                    updateable=False),
           FieldDef("IsDeleted", "boolean", label="Deleted", nillable=False, createable=False,
                    updateable=False),
           FieldDef("CreatedDate", "datetime", nillable=False, createable=False, updateable=False),
           _ro(_ref("CreatedById", "User", label="Created By ID", nillable=False)),
           FieldDef("LastModifiedDate", "datetime", nillable=False, createable=False,
                    updateable=False),
           _ro(_ref("LastModifiedById", "User", label="Last Modified By ID", nillable=False)),
           FieldDef("SystemModstamp", "datetime", label="System Modstamp", nillable=False,
                    createable=False, updateable=False)]
    if owner:
        out.append(_ref("OwnerId", *owner_to, label=owner_label, nillable=False))
    return out


_SALUTATIONS = ("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")
_LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
_INDUSTRIES = ("Agriculture", "Banking", "Consulting", "Education", "Energy", "Finance",
               "Healthcare", "Manufacturing", "Media", "Retail", "Technology", "Other")

LEAD_STATUSES = ("Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                 "Closed - Not Converted")


def _address(prefix: str) -> list[FieldDef]:
    """A compound address's text parts, labelled as Salesforce labels them (errors quote labels)."""
    lead = f"{prefix} " if prefix else ""
    return [_s(f"{prefix}Street", 255, type="textarea", label=f"{lead}Street"),
            _s(f"{prefix}City", 40, label=f"{lead}City"),
            _s(f"{prefix}State", 80, label=f"{lead}State/Province"),
            _s(f"{prefix}PostalCode", 20, label=f"{lead}Zip/Postal Code"),
            _s(f"{prefix}Country", 80, label=f"{lead}Country")]


def _person(mailing: str) -> list[FieldDef]:
    prefix = mailing
    return [
        _pick("Salutation", _SALUTATIONS, 40),
        _s("FirstName", 40),
        _s("LastName", 80, nillable=False, required=True),
        _ro(_s("Name", 121, label="Full Name", name_field=True)),
        _s("Title", 128),
        _s("Email", 80, type="email"),
        _s("Phone", 40, type="phone"),
        _s("MobilePhone", 40, type="phone", label="Mobile Phone"),
        _s("Fax", 40, type="phone"),
        *_address(prefix),
        _pick("LeadSource", _LEAD_SOURCES, 255, label="Lead Source"),
        FieldDef("HasOptedOutOfEmail", "boolean", label="Email Opt Out", nillable=False,
                 default=False),
        FieldDef("DoNotCall", "boolean", nillable=False, default=False),
        _s("Description", 32000, type="textarea"),
    ]


LEAD = [
    *_system(owner_to=("Group", "User")),
    *_person(""),
    _s("Company", 255, nillable=False, required=True),
    _s("Website", 255, type="url"),
    _pick("Industry", _INDUSTRIES),
    # Lead Status is backed by the LeadStatus entity: the API refuses a value not in the list
    _pick("Status", LEAD_STATUSES, 40, label="Lead Status", nillable=False,
          default="Open - Not Contacted", restricted=True),
    _pick("Rating", ("Hot", "Warm", "Cold")),
    FieldDef("NumberOfEmployees", "int", label="Employees"),
    FieldDef("AnnualRevenue", "currency"),
    FieldDef("IsConverted", "boolean", label="Converted", nillable=False, createable=False,
             updateable=False, default=False),
    FieldDef("ConvertedDate", "date", createable=False, updateable=False),
    _ro(_ref("ConvertedAccountId", "Account")),
    _ro(_ref("ConvertedContactId", "Contact")),
    _ro(_ref("ConvertedOpportunityId", "Opportunity")),
    FieldDef("IsUnreadByOwner", "boolean", label="Unread By Owner", nillable=False,
             createable=False, updateable=False, default=False),
    FieldDef("LastActivityDate", "date", createable=False, updateable=False),
    _ro(_ref("MasterRecordId", "Lead", label="Master Record ID")),
]

CONTACT = [
    *_system(),
    _ref("AccountId", "Account"),
    *_person("Mailing"),
    _s("Department", 80),
    FieldDef("Birthdate", "date"),
    FieldDef("LastActivityDate", "date", createable=False, updateable=False),
    _ro(_ref("MasterRecordId", "Contact", label="Master Record ID")),
]

ACCOUNT = [
    *_system(),
    _s("Name", 255, label="Account Name", nillable=False, required=True, name_field=True),
    _pick("Type", ("Prospect", "Customer - Direct", "Customer - Channel", "Partner", "Other")),
    _ref("ParentId", "Account"),
    *_address("Billing"),
    _s("Phone", 40, type="phone"),
    _s("Website", 255, type="url"),
    _pick("Industry", _INDUSTRIES),
    FieldDef("AnnualRevenue", "currency"),
    FieldDef("NumberOfEmployees", "int", label="Employees"),
    _pick("AccountSource", _LEAD_SOURCES, label="Account Source"),
    _s("Description", 32000, type="textarea"),
]

CAMPAIGN = [
    *_system(),
    _s("Name", 80, label="Campaign Name", nillable=False, required=True, name_field=True),
    _ref("ParentId", "Campaign"),
    _pick("Type", ("Advertisement", "Email", "Webinar", "Conference", "Trade Show", "Other")),
    _pick("Status", ("Planned", "In Progress", "Completed", "Aborted"), default="Planned"),
    FieldDef("StartDate", "date"),
    FieldDef("EndDate", "date"),
    FieldDef("IsActive", "boolean", label="Active", nillable=False, default=False),
    FieldDef("BudgetedCost", "currency"),
    FieldDef("ActualCost", "currency"),
    _s("Description", 32000, type="textarea"),
]

CAMPAIGN_MEMBER = [
    *_system(owner=False),
    _ref("CampaignId", "Campaign", nillable=False, required=True, updateable=False),
    _ref("LeadId", "Lead", updateable=False),
    _ref("ContactId", "Contact", updateable=False),
    _ro(_ref("LeadOrContactId", "Lead", "Contact", label="Lead or Contact ID")),
    _ro(_ref("LeadOrContactOwnerId", "User", label="Lead or Contact Owner ID")),
    _pick("Status", ("Sent", "Responded"), 40),  # per campaign: CampaignMemberStatus
    FieldDef("HasResponded", "boolean", label="Responded", nillable=False, createable=False,
             updateable=False, default=False),
    FieldDef("FirstRespondedDate", "date", createable=False, updateable=False),
    _ro(_s("Type", 40)),
    _ro(_s("FirstName", 40)),
    _ro(_s("LastName", 80)),
    _ro(_s("Name", 121, name_field=True)),
    _ro(_s("Title", 128)),
    _ro(_s("Email", 80, type="email")),
    _ro(_s("CompanyOrAccount", 255, label="Company (Account)")),
    _s("Description", 32000, type="textarea"),
]

CAMPAIGN_MEMBER_STATUS = [
    *_system(owner=False),
    _ref("CampaignId", "Campaign", nillable=False, required=True, updateable=False),
    _s("Label", 765, label="Member Status", nillable=False, required=True),
    FieldDef("HasResponded", "boolean", label="Responded", nillable=False, default=False),
    FieldDef("IsDefault", "boolean", label="Default", nillable=False, default=False),
    FieldDef("SortOrder", "int"),
]

TASK = [
    # describe lists Group among OwnerId's targets, yet a queue cannot own a Task (store rule)
    *_system(owner_to=("Group", "User"), owner_label="Assigned To ID"),
    _s("Subject", 255, type="combobox", name_field=True),
    _ref("WhoId", "Lead", "Contact", label="Name ID"),
    _ref("WhatId", "Account", "Campaign", label="Related To ID"),
    FieldDef("ActivityDate", "date", label="Due Date Only"),
    # Status and Priority are backed by TaskStatus / TaskPriority: restricted on the API
    _pick("Status", ("Not Started", "In Progress", "Completed", "Waiting on someone else",
                     "Deferred"), 40, nillable=False, default="Not Started", restricted=True),
    _pick("Priority", ("High", "Normal", "Low"), 40, nillable=False, default="Normal",
          restricted=True),
    FieldDef("ReminderDateTime", "datetime", label="Reminder Date/Time"),
    FieldDef("IsReminderSet", "boolean", label="Reminder Set", nillable=False, default=False),
    _pick("TaskSubtype", ("Task", "Email", "Call"), 40, default="Task"),
    FieldDef("IsClosed", "boolean", label="Closed", nillable=False, createable=False,
             updateable=False, default=False),
    _s("Description", 32000, type="textarea"),
]

# Event (Object Reference, "Event"): a calendar activity (a meeting or call a rep logs) on a
# Lead or Contact (WhoId). Not all-day: DurationInMinutes or EndDateTime is required (store
# rule); ActivityDateTime and StartDateTime are the same moment.
EVENT = [
    *_system(owner_to=("Group", "User"), owner_label="Assigned To ID"),
    _s("Subject", 255, type="combobox", name_field=True),
    _ref("WhoId", "Lead", "Contact", label="Name ID"),
    _ref("WhatId", "Account", "Campaign", label="Related To ID"),
    FieldDef("ActivityDateTime", "datetime", label="Due Date Time"),
    FieldDef("ActivityDate", "date", label="Due Date Only"),
    FieldDef("StartDateTime", "datetime", label="Start Date Time"),
    FieldDef("EndDateTime", "datetime", label="End Date Time"),
    FieldDef("DurationInMinutes", "int", label="Duration", length=0),
    FieldDef("IsAllDayEvent", "boolean", label="All-Day Event", nillable=False, default=False),
    _s("Location", 255),
    _s("Description", 32000, type="textarea"),
]

# Opportunity (Object Reference, "Opportunity"): IsClosed and IsWon are read-only and follow
# StageName through the org's OpportunityStage (the default stages' Closed Won / Closed Lost).
OPPORTUNITY_STAGES = ("Prospecting", "Qualification", "Needs Analysis", "Value Proposition",
                      "Id. Decision Makers", "Perception Analysis", "Proposal/Price Quote",
                      "Negotiation/Review", "Closed Won", "Closed Lost")
OPPORTUNITY = [
    *_system(),
    _ref("AccountId", "Account"),
    _s("Name", 120, nillable=False, required=True, name_field=True),
    _pick("StageName", OPPORTUNITY_STAGES, label="Stage", nillable=False, required=True),
    FieldDef("CloseDate", "date", nillable=False, required=True),
    FieldDef("Amount", "currency"),
    _ref("CampaignId", "Campaign"),
    _pick("LeadSource", _LEAD_SOURCES),
    FieldDef("IsClosed", "boolean", label="Closed", nillable=False, createable=False,
             updateable=False, default=False),
    FieldDef("IsWon", "boolean", label="Won", nillable=False, createable=False,
             updateable=False, default=False),
]

USER = [
    *_system(owner=False),
    _s("Username", 80, nillable=False, required=True, unique=True),
    _s("FirstName", 40),
    _s("LastName", 80, nillable=False, required=True),
    _ro(_s("Name", 121, label="Full Name", name_field=True)),
    _s("Alias", 8),
    _s("Email", 128, type="email", nillable=False, required=True),
    _s("Title", 80),
    FieldDef("IsActive", "boolean", label="Active", nillable=False, default=True),
]

# Group: public groups and queues. A queue (Type = 'Queue') owns records of the sObjects its
# QueueSobject rows name; DeveloperName is the stable handle configs refer to.
GROUP_TYPES = ("Regular", "Queue", "Role", "RoleAndSubordinates", "Organization")
GROUP = [
    *_system(owner=False),
    _s("Name", 40, label="Name", nillable=False, required=True, name_field=True),
    _s("DeveloperName", 80, label="Developer Name", nillable=False, unique=True),
    _pick("Type", GROUP_TYPES, 40, nillable=False, default="Regular", restricted=True),
    _s("Email", 255, type="email"),
    FieldDef("DoesSendEmailToMembers", "boolean", label="Send Email to Members", nillable=False,
             default=False),
    FieldDef("DoesIncludeBosses", "boolean", label="Include Bosses", nillable=False,
             default=False),
]

# The objects a queue may own: Lead, Case, ServiceContract and custom objects, never
# Account, Contact or Task (of these the sandbox emulates Lead only).
QUEUE_SOBJECTS = ("Case", "Lead", "ServiceContract")
QUEUE_SOBJECT = [
    *_system(owner=False),
    _ref("QueueId", "Group", label="Queue ID", nillable=False, required=True, updateable=False),
    _pick("SobjectType", QUEUE_SOBJECTS, 40, label="Sobject Type", nillable=False,
          required=True, updateable=False, restricted=True),
]


# -- State and Country/Territory Picklists -----------------------------------------------
# An org setting. When on, each address gets picklist code fields beside its text fields
# (CountryCode, StateCode; Mailing... on Contact, Billing... on Account): the code picklist's
# values are ISO codes, its labels the names, and the text field holds the "integration
# value" (by default the name). StateCode depends on CountryCode (controllerName, validFor).
# Simplification: a subset of Salesforce's 235 standard countries, states for US, CA and AU
# only, and integration values that always equal the standard names.

COUNTRIES: dict[str, str] = {
    "AE": "United Arab Emirates", "AR": "Argentina", "AT": "Austria", "AU": "Australia",
    "BE": "Belgium", "BR": "Brazil", "CA": "Canada", "CH": "Switzerland", "CL": "Chile",
    "CN": "China", "CO": "Colombia", "CZ": "Czechia", "DE": "Germany", "DK": "Denmark",
    "EG": "Egypt", "ES": "Spain", "FI": "Finland", "FR": "France", "GB": "United Kingdom",
    "GR": "Greece", "HK": "Hong Kong", "HU": "Hungary", "ID": "Indonesia", "IE": "Ireland",
    "IL": "Israel", "IN": "India", "IT": "Italy", "JP": "Japan", "KR": "Korea, Republic of",
    "MX": "Mexico", "MY": "Malaysia", "NG": "Nigeria", "NL": "Netherlands", "NO": "Norway",
    "NZ": "New Zealand", "PH": "Philippines", "PL": "Poland", "PT": "Portugal",
    "RO": "Romania", "SA": "Saudi Arabia", "SE": "Sweden", "SG": "Singapore",
    "TH": "Thailand", "TR": "Turkey", "TW": "Taiwan", "UA": "Ukraine", "US": "United States",
    "VN": "Viet Nam", "ZA": "South Africa",
}

STATES: dict[str, dict[str, str]] = {
    "US": {
        "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
        "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
        "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
        "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
        "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
        "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
        "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
        "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota",
        "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
        "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee",
        "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
        "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    },
    "CA": {
        "AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
        "NL": "Newfoundland and Labrador", "NS": "Nova Scotia", "NT": "Northwest Territories",
        "NU": "Nunavut", "ON": "Ontario", "PE": "Prince Edward Island", "QC": "Quebec",
        "SK": "Saskatchewan", "YT": "Yukon Territories",
    },
    "AU": {
        "ACT": "Australian Capital Territory", "NSW": "New South Wales",
        "NT": "Northern Territory", "QLD": "Queensland", "SA": "South Australia",
        "TAS": "Tasmania", "VIC": "Victoria", "WA": "Western Australia",
    },
}

# The address groups that get code fields: sObject -> field prefixes.
ADDRESSES: dict[str, tuple[str, ...]] = {"Lead": ("",), "Contact": ("Mailing",),
                                         "Account": ("Billing",)}

_COUNTRY_ORDER = tuple(sorted(COUNTRIES, key=lambda c: COUNTRIES[c]))   # picklist order: by name
COUNTRY_BY_NAME = {name.lower(): code for code, name in COUNTRIES.items()}


def valid_for(indexes: Iterable[int]) -> str:
    """The base64 ``validFor`` bitmap: bit i (most significant first) = controller value i."""
    import base64
    idx = list(indexes)
    size = (max(idx) // 8 + 1) if idx else 0
    bits = bytearray(size)
    for i in idx:
        bits[i // 8] |= 0x80 >> (i % 8)
    return base64.b64encode(bytes(bits)).decode("ascii")


def address_code_fields(prefix: str) -> list[FieldDef]:
    """CountryCode and StateCode picklists for one address (``prefix`` '', 'Mailing', ...).

    StateCode lists every country's states, so a code such as WA appears twice (Washington
    for US, Western Australia for AU), each entry valid for its own country, as in an org.
    """
    lead = f"{prefix} " if prefix else ""
    states = [(code, name, country) for country in _COUNTRY_ORDER
              for code, name in sorted(STATES.get(country, {}).items(), key=lambda kv: kv[1])]
    position = {c: i for i, c in enumerate(_COUNTRY_ORDER)}
    return [
        FieldDef(f"{prefix}CountryCode", "picklist", label=f"{lead}Country Code", length=10,
                 picklist=_COUNTRY_ORDER, restricted=True,
                 picklist_labels=tuple(COUNTRIES[c] for c in _COUNTRY_ORDER)),
        FieldDef(f"{prefix}StateCode", "picklist", label=f"{lead}State/Province Code",
                 length=10, picklist=tuple(s[0] for s in states), restricted=True,
                 picklist_labels=tuple(s[1] for s in states),
                 controller=f"{prefix}CountryCode",
                 valid_for=tuple(valid_for([position[s[2]]]) for s in states)),
    ]


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
