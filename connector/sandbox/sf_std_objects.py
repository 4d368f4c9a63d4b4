"""The standard objects' fields, as an org (API 59.0) has them, trimmed to what a
marketing-to-sales connector meets: Lead, Contact, Account, Campaign, CampaignMember(Status),
Task, Event, Opportunity, User, Group, QueueSobject.

Split out of ``sf_schema``: long, declarative lists that change when an object gains a
field, kept apart from the code that builds an org from them.
"""

from __future__ import annotations

from .sf_fields import FieldDef, _pick, _ref, _ro, _s, _system


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
