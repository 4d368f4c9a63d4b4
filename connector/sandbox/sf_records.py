"""The emulated Salesforce org's building blocks: records, tables, write options, timestamps.

Split out of ``sf_store`` so the store's rule, coercion, org-operation and dataset modules
can share these plain types without importing the ``Store`` class itself. Records are sparse
dicts (``Row``: missing fields read as ``None``) keyed by canonical field names, so 100,000
Leads stay small; per-field hash indexes (``Table``) let a query with ``Email IN (...)``
touch only the matching rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol

from .soql_values import index_key
from .sf_schema import FieldDef, ObjectDef, make_id

if TYPE_CHECKING:
    from . import dupes, validation

__all__ = ["DatasetError", "Row", "WriteOptions", "LOAD_OPTIONS", "INTERNAL", "Table",
           "API_USER_ID", "QUEUE_USER_ID", "DEFAULT_USERS", "ROLLED_BACK_MESSAGE",
           "format_datetime", "parse_datetime", "compact", "OrgStore"]


class DatasetError(ValueError):
    """A dataset cannot be loaded; the message names the record and the reason."""


class Row(dict):
    """A stored record: absent fields read as None, as in a query result."""

    __slots__ = ()

    def __missing__(self, key: str) -> None:
        return None


@dataclass(frozen=True)
class WriteOptions:
    """Per-request switches that change how a write is processed (REST headers, load mode)."""

    auto_assign: bool = True          # Sforce-Auto-Assign absent or TRUE
    allow_duplicates: bool = False    # Sforce-Duplicate-Rule-Header: allowSave=true
    record_details: bool = False      # ... includeRecordDetails=true
    trusted: bool = False             # dataset load: system fields writable, no rules
    api_version: str = "59.0"


LOAD_OPTIONS = WriteOptions(auto_assign=False, allow_duplicates=True, trusted=True)
INTERNAL = WriteOptions(auto_assign=False, allow_duplicates=True)

_DT_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
                    r"\s*(Z|[+-]\d{2}:?\d{2})?$")
_NOT_INDEXED = {"CreatedById", "LastModifiedById", "OwnerId", "LeadOrContactOwnerId"}
_ROLLED_BACK = ("Record rolled back because not all records were valid and the request was "
                "using AllOrNone header")

API_USER_ID = make_id("005", 1)
QUEUE_USER_ID = make_id("005", 2)
DEFAULT_USERS = [
    {"Id": API_USER_ID, "Username": "integration@leadsync.sandbox", "FirstName": "Leadsync",
     "LastName": "Integration", "Alias": "lsync", "Email": "integration@leadsync.sandbox"},
    {"Id": QUEUE_USER_ID, "Username": "lead.queue@leadsync.sandbox", "LastName": "Lead Queue",
     "Alias": "queue", "Email": "lead.queue@leadsync.sandbox"},
]


def format_datetime(value: datetime) -> str:
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def parse_datetime(text: str) -> datetime | None:
    """ISO 8601 as Salesforce accepts it (``Z``, ``+0000``, ``+00:00``, date only)."""
    if len(text) >= 10 and text[4] == "-":
        try:
            dt = datetime.fromisoformat(text)   # fast path: C parser, 3.11 takes Z and +0000
        except ValueError:
            dt = None
        if dt is not None:
            return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)
    m = _DT_RE.match(text.strip())
    if not m:
        return None
    y, mo, d, hh, mm, ss, frac, tz = m.groups()
    try:
        micro = int((frac or "0")[:6].ljust(6, "0"))
        dt = datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0), micro)
    except ValueError:
        return None
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return dt.replace(tzinfo=timezone(sign * offset))
    return dt.replace(tzinfo=timezone.utc)


class Table:
    """One sObject's live rows, deleted rows (recycle bin) and hash indexes."""

    def __init__(self, obj: ObjectDef) -> None:
        self.obj = obj
        self.rows: dict[str, Row] = {}
        self.deleted: dict[str, Row] = {}
        self.seq: dict[str, int] = {}
        self.indexes: dict[str, dict[str, set[str]]] = {}
        for fd in obj.fields.values():
            if (fd.type == "id" or (fd.type == "reference" and fd.name not in _NOT_INDEXED)
                    or fd.external_id or fd.unique or fd.name in ("Email", "Username")):
                self.indexes[fd.name] = {}

    @staticmethod
    def key(fd: FieldDef, value: Any) -> Any:
        """The index key: SOQL's own normalisation (lower-cased text, 18-char ids)."""
        return index_key(value, fd.type)

    def index(self, row: Mapping[str, Any]) -> None:
        rid = row["Id"]
        for name, idx in self.indexes.items():
            k = self.key(self.obj.fields[name], row.get(name))
            if k is not None:
                idx.setdefault(k, set()).add(rid)

    def unindex(self, row: Mapping[str, Any]) -> None:
        rid = row["Id"]
        for name, idx in self.indexes.items():
            k = self.key(self.obj.fields[name], row.get(name))
            if k is not None:
                ids = idx.get(k)
                if ids is not None:
                    ids.discard(rid)
                    if not ids:
                        del idx[k]

    def lookup(self, field_name: str, value: Any) -> list[Row]:
        """Live rows whose field equals value (case-insensitively), in creation order."""
        fd = self.obj.fields[field_name]
        idx = self.indexes.get(field_name)
        if idx is not None:
            ids = idx.get(self.key(fd, value), ())
            return sorted((self.rows[i] for i in ids), key=lambda r: self.seq[r["Id"]])
        k = self.key(fd, value)
        return [r for r in self.rows.values() if self.key(fd, r.get(field_name)) == k]


def compact(values: Mapping[str, Any]) -> dict[str, Any]:
    """The entries that are not None (a sparse record)."""
    return {k: v for k, v in values.items() if v is not None}


ROLLED_BACK_MESSAGE = _ROLLED_BACK


class OrgStore(Protocol):
    """What the store's rule, address, org-operation and dataset modules use of the store.

    Those modules hold plain functions taking the store; typing them against this protocol
    instead of ``sf_store.Store`` keeps the sandbox's imports one way (sf_store imports
    them, never the reverse; tests/test_sandbox_rules_imports.py checks it).
    """

    objects: dict[str, ObjectDef]
    tables: dict[str, Table]
    state_country: bool
    picklist_overrides: dict[str, dict[str, list[Any]]]
    duplicate_rules: dupes.DuplicateRules
    validation_rules: validation.ValidationRules
    same_save: set[str] | None
    assignment_owner_id: str
    api_user_id: str
    _journal: list[Callable[[], None]]

    def reset(self, custom: Mapping[str, Mapping[str, Mapping[str, Any] | None]] | None = None,
              seed_users: bool = True, *, state_country: bool = False) -> None: ...

    def _seed_users(self) -> None: ...

    def queue_sobjects(self, queue_id: str) -> set[str]: ...

    def sobject_name(self, name: str) -> str | None: ...

    def schema(self, sobject: str) -> ObjectDef: ...

    def mark(self) -> int: ...

    def rollback(self, mark: int) -> None: ...

    def today(self) -> str: ...

    def live(self, sobject: str, value: str) -> Row: ...

    def create(self, sobject: str, fields: Mapping[str, Any],
               opts: WriteOptions = WriteOptions()) -> str: ...

    def add_default_statuses(self, campaign_id: str) -> None: ...

    def _statuses(self, campaign_id: str) -> list[Row]: ...

    def members_of(self, campaign_id: str) -> list[Row]: ...

    def _replace(self, table: Table, old: Row, changes: Mapping[str, Any],
                 stamp: bool = True) -> Row: ...

    def _remove(self, table: Table, row: Row, master_id: str | None = None) -> None: ...

    def _delete_row(self, table: Table, row: Row) -> None: ...
