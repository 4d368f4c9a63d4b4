"""The lifecycle pass's Salesforce reads: watched Leads with their Tasks, the pool's users,
queues, and Tasks a lost reply may have created. Bounded: at most :data:`IDS_PER_QUERY` Ids
a statement, 5 statements a composite call (``SalesforceClient.query_many``), so a pass over
10,000 watches costs about 7 calls.

One statement per page of Leads reads everything a decision needs: the Lead's owner, status
and recycle fields, and its Tasks as a child subquery (``Tasks``: the follow-up Task's
``IsClosed`` and any other activity logged since the hand-off), per the SOQL guide's
relationship queries (docs/sandbox-wire-facts.md, "Lead lifecycle").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from simple_salesforce import format_soql

from connector.adapters.salesforce.client import SalesforceClient
from connector.adapters.salesforce.soql import chunks_by_size
from connector.core.ids import API_NAME, to_id18
from connector.core.lifecycle.model import LeadFacts, TaskFacts
from connector.core.timefmt import parse_ms, utc

IDS_PER_QUERY = 300
LEAD_FIELDS = ("Id", "OwnerId", "Owner.Name", "Owner.Email", "Status", "IsConverted", "LastModifiedDate",
               "Country", "State", "Company")
TASK_SUBQUERY = "(SELECT Id, IsClosed, OwnerId, CreatedDate, LastModifiedDate FROM Tasks)"
# Meetings and calls a rep puts in the calendar are Events: activity as much as a logged Task.
EVENT_SUBQUERY = "(SELECT Id, OwnerId, CreatedDate, LastModifiedDate FROM Events)"


@dataclass(frozen=True)
class UserRow:
    id: str
    username: str
    name: str
    active: bool
    email: str | None = None


def read_leads(client: SalesforceClient, lead_ids: Sequence[str], *,
               reason_field: str | None = None, date_field: str | None = None
               ) -> dict[str, LeadFacts]:
    """Lead Id -> what a decision needs; a Lead not found is absent (deleted or merged)."""
    ids = sorted(set(lead_ids))
    if not ids:
        return {}
    extra_fields = [f for f in (reason_field, date_field) if f]
    for name in extra_fields:
        if not API_NAME.fullmatch(name):
            raise ValueError(f"not a field's API name: {name!r}")
    fields = ", ".join([*LEAD_FIELDS, *dict.fromkeys(extra_fields), TASK_SUBQUERY,
                       EVENT_SUBQUERY])
    prefix = f"SELECT {fields} FROM Lead WHERE "
    statements = [s for start in range(0, len(ids), IDS_PER_QUERY)
                  for s in chunks_by_size(ids[start:start + IDS_PER_QUERY], prefix, "Id IN {ids}")]
    out: dict[str, LeadFacts] = {}
    for rows in client.query_many(statements):
        for row in rows:
            facts = lead_facts(row, reason_field, date_field)
            out[facts.id] = facts
    return out


def lead_facts(row: dict[str, Any], reason_field: str | None = None,
               date_field: str | None = None) -> LeadFacts:
    """One Lead row of :func:`read_leads`."""
    owner = row.get("Owner") or {}
    tasks = tuple(TaskFacts(id=to_id18(t["Id"]), closed=bool(t.get("IsClosed")),
                            owner_id=t.get("OwnerId"),
                            created_ms=parse_ms(t.get("CreatedDate")) or 0,
                            modified_ms=parse_ms(t.get("LastModifiedDate")) or 0)
                  for t in ((row.get("Tasks") or {}).get("records") or []))
    # an Event is a logged activity (done when logged): a Task already closed, for the rules
    tasks += tuple(TaskFacts(id=to_id18(e["Id"]), closed=True, owner_id=e.get("OwnerId"),
                             created_ms=parse_ms(e.get("CreatedDate")) or 0,
                             modified_ms=parse_ms(e.get("LastModifiedDate")) or 0)
                   for e in ((row.get("Events") or {}).get("records") or []))
    return LeadFacts(
        id=to_id18(row["Id"]), owner_id=row.get("OwnerId"),
        owner_name=owner.get("Name") if isinstance(owner, dict) else None,
        owner_email=owner.get("Email") if isinstance(owner, dict) else None,
        status=row.get("Status"), converted=bool(row.get("IsConverted")),
        modified_ms=parse_ms(row.get("LastModifiedDate")) or 0, country=row.get("Country"),
        state=row.get("State"), company=row.get("Company"),
        recycle_reason=_text(row.get(reason_field)) if reason_field else None,
        come_back_date=_text(row.get(date_field)) if date_field else None, tasks=tasks)


def read_users(client: SalesforceClient, usernames: Iterable[str], ids: Iterable[str],
               queues: Iterable[str]) -> tuple[list[UserRow], dict[str, str]]:
    """Users by Username or Id, active or not (an inactive pool member is named and skipped),
    and queue DeveloperName -> Id; one composite call."""
    names, user_ids, queue_names = sorted(set(usernames)), sorted(set(ids)), sorted(set(queues))
    statements: list[str] = []
    if names:
        statements.append(format_soql("SELECT Id, Username, Name, Email, IsActive FROM User "
                                      "WHERE Username IN {}", names))
    if user_ids:
        statements.append(format_soql("SELECT Id, Username, Name, Email, IsActive FROM User "
                                      "WHERE Id IN {}", user_ids))
    if queue_names:
        statements.append(format_soql("SELECT Id, DeveloperName FROM Group WHERE Type = 'Queue' "
                                      "AND DeveloperName IN {}", queue_names))
    results = client.query_many(statements)
    users: dict[str, UserRow] = {}
    queues_found: dict[str, str] = {}
    for statement, rows in zip(statements, results):
        for row in rows:
            if "FROM Group" in statement:
                queues_found[str(row.get("DeveloperName"))] = to_id18(row["Id"])
            else:
                uid = to_id18(row["Id"])
                users[uid] = UserRow(uid, str(row.get("Username") or ""),
                                     str(row.get("Name") or row.get("Username") or uid),
                                     bool(row.get("IsActive")), row.get("Email"))
    return list(users.values()), queues_found


def find_created_tasks(client: SalesforceClient, wanted: Sequence[tuple[str, str, int]]
                       ) -> dict[tuple[str, str], list[str]]:
    """(WhoId, Subject) -> Ids of Tasks created since the earliest moment given, oldest Id
    first: the Tasks a pass whose reply was lost may have created (a Task has no natural key;
    the Lead, the subject leadsync wrote and the time since its intent stand for one)."""
    if not wanted:
        return {}
    since = min(at for _, _, at in wanted)
    stamp = utc(max(0, since)).strftime("%Y-%m-%dT%H:%M:%SZ")
    prefix = (f"SELECT Id, WhoId, Subject, CreatedDate FROM Task WHERE CreatedDate >= {stamp} "
              "AND ")
    statements = list(chunks_by_size(sorted({w for w, _, _ in wanted}), prefix, "WhoId IN {ids}"))
    found: dict[tuple[str, str], list[str]] = {}
    for rows in client.query_many(statements):
        for row in sorted(rows, key=lambda r: str(r.get("Id"))):
            key = (to_id18(str(row.get("WhoId"))), str(row.get("Subject") or ""))
            found.setdefault(key, []).append(to_id18(row["Id"]))
    return found


def field_names(client: SalesforceClient, sobject: str = "Lead") -> set[str] | None:
    """The sObject's field names (lower case) from its describe, or None if it fails."""
    describe = client.describe([sobject]).get(sobject) or {}
    fields = describe.get("fields")
    if not isinstance(fields, list):
        return None
    return {str(f.get("name") or "").lower() for f in fields}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
