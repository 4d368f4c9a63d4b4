"""The emulated Salesforce org's records: validation, ids, indexes, rules and rollback.

Every Salesforce rule a connector can trip over lives here, once, so that single-record
REST calls, sObject Collections, composite subrequests, admin operations and the Python
helpers all behave alike. The store is not thread-safe by itself: callers hold the
sandbox's app lock around every call.

Records are sparse dicts (``Row``: missing fields read as ``None``) keyed by canonical
field names, so 100,000 Leads stay small. Per-field hash indexes (Id, Email, lookups,
external ids) let a query with ``Email IN (...)`` touch only the matching rows.
Writes are journaled per request so ``allOrNone`` and composite rollbacks are exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Mapping

from .soql import index_key
from dataclasses import replace as _replace_field

from . import dupes, member_status, validation
from .sf_errors import SfError
from .sf_schema import (ADDRESSES, COUNTRIES, COUNTRY_BY_NAME, EXTERNAL_ID_FIELD, LOAD_ORDER,
                        PREFIXES, STATES, STRING_TYPES, FieldDef, ObjectDef,
                        address_code_fields, build_objects, custom_schema_dump, id_number,
                        make_id, to_id18)

__all__ = ["SfError", "Row", "WriteOptions", "Store", "DatasetError", "format_datetime",
           "EXTERNAL_ID_FIELD"]


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

_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
_DT_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
                    r"\s*(Z|[+-]\d{2}:?\d{2})?$")
_NOT_INDEXED = {"CreatedById", "LastModifiedById", "OwnerId", "LeadOrContactOwnerId"}
_ROLLED_BACK = ("Record rolled back because not all records were valid and the request was "
                "using AllOrNone header")
# State and Country/Territory Picklists: the messages Salesforce gives for a text value that
# is not an integration value; the field's label follows after ": ".
_COUNTRY_PROBLEM = ("There's a problem with this country, even though it may appear correct. "
                    "Please select a country/territory from the list of valid countries.")
_STATE_PROBLEM = ("There's a problem with this state, even though it may appear correct. "
                  "Please select a state from the list of valid states.")

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


class Store:
    """The org: objects, tables, settings (duplicate rules, assignment owner) and the journal."""

    def __init__(self) -> None:
        self.reset()

    # -- setup --------------------------------------------------------------------------
    def reset(self, custom: Mapping[str, Mapping[str, Mapping[str, Any] | None]] | None = None,
              seed_users: bool = True, *, state_country: bool = False) -> None:
        self.objects: dict[str, ObjectDef] = build_objects(custom, state_country)
        self.state_country = state_country
        self.picklist_overrides: dict[str, dict[str, list[Any]]] = {}
        self.tables: dict[str, Table] = {n: Table(o) for n, o in self.objects.items()}
        self._names = {n.lower(): n for n in self.objects}
        self._counters: dict[str, int] = {}
        self._seq = 0
        self._last_ts: datetime | None = None
        self._journal: list[Callable[[], None]] = []
        self.duplicate_rules = dupes.DuplicateRules()
        # ids created so far in the current multi-record save (a collections call), which
        # duplicate rules do not compare with each other; None outside such a save
        self.same_save: set[str] | None = None
        self.validation_rules = validation.ValidationRules()
        self.assignment_owner_id: str = QUEUE_USER_ID
        self.api_user_id: str = API_USER_ID
        if seed_users:
            self._seed_users()
        self._journal.clear()

    def _seed_users(self) -> None:
        """The API user (default owner) and the assignment target, unless a dataset has them."""
        for user in DEFAULT_USERS:
            if user["Id"] not in self.tables["User"].rows:
                self.create("User", user, LOAD_OPTIONS)

    # -- org setup: users, queues, settings -----------------------------------------------
    def add_user(self, last_name: str, *, first_name: str | None = None,
                 email: str | None = None, username: str | None = None, active: bool = True,
                 user_id: str | None = None, **fields: Any) -> str:
        """Add a User (a possible owner); Username and Email default to a sandbox address."""
        rec = _compact({"LastName": last_name, "FirstName": first_name, "Email": email,
                        "Username": username, "IsActive": active, "Id": user_id, **fields})
        return self.create("User", self._user_defaults(rec), LOAD_OPTIONS)

    def _user_defaults(self, rec: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(rec)
        if not out.get("Email") or not out.get("Username"):
            base = re.sub(r"[^a-z0-9]+", ".", " ".join(
                str(out.get(k) or "") for k in ("FirstName", "LastName")).lower()).strip(".")
            base = base or "user"
            address, n = f"{base}@leadsync.sandbox", 1
            while self.tables["User"].lookup("Username", address):
                n += 1
                address = f"{base}{n}@leadsync.sandbox"
            out.setdefault("Email", out.get("Username") or address)
            out.setdefault("Username", address)
        return out

    def add_queue(self, name: str, *, developer_name: str | None = None,
                  sobjects: Iterable[str] = ("Lead",), email: str | None = None,
                  queue_id: str | None = None) -> str:
        """Add a queue (Group Type 'Queue') and a QueueSobject row for each sObject it owns."""
        mark = self.mark()
        try:
            gid = self.create("Group", _compact({
                "Name": name, "DeveloperName": developer_name, "Type": "Queue",
                "Email": email, "Id": queue_id}), LOAD_OPTIONS)
            for sobject in sobjects:
                self.create("QueueSobject", {"QueueId": gid, "SobjectType": sobject},
                            INTERNAL)
        except Exception:
            self.rollback(mark)
            raise
        return gid

    def queue_sobjects(self, queue_id: str) -> set[str]:
        """The sObject types a queue may own (its QueueSobject rows)."""
        return {r["SobjectType"] for r in self.tables["QueueSobject"].lookup("QueueId", queue_id)}

    def set_state_country_picklists(self, on: bool) -> None:
        """Turn State and Country/Territory Picklists on or off for the org.

        On adds the code picklists and fills them on existing records whose text values are
        integration values (Salesforce's conversion tool does this with an admin's review;
        here values that match nothing stay as text, a simplification). Off drops the codes.
        """
        on = bool(on)
        if on == self.state_country:
            return
        self.state_country = on
        for name, prefixes in ADDRESSES.items():
            table = self.tables[name]
            for prefix in prefixes:
                fields = address_code_fields(prefix)
                for fd in fields:
                    if on:
                        table.obj.add(fd)
                    else:
                        table.obj.remove(fd.name)
                for row in table.rows.values():
                    if on:
                        _backfill_codes(row, prefix)
                    else:
                        for fd in fields:
                            row.pop(fd.name, None)
        self._journal.clear()

    def set_picklist(self, sobject: str, field_name: str, values: Iterable[Any]) -> None:
        """Replace a picklist's values (an org's own Lead Status list, say); ValueError if wrong."""
        obj = self.schema(sobject)
        fd = obj.field(field_name)
        if fd is None or fd.type not in ("picklist", "combobox") or fd.controller:
            raise ValueError(f"picklists: {sobject}.{field_name} is not a picklist that can be set")
        items = [v if isinstance(v, Mapping) else {"value": v} for v in values]
        if not items or any(not isinstance(i.get("value"), str) or not i["value"] for i in items):
            raise ValueError(f"picklists: {obj.name}.{fd.name}: expected a non-empty list of "
                             "values (strings or {value, label})")
        picklist = tuple(i["value"] for i in items)
        labels = tuple(str(i.get("label") or i["value"]) for i in items)
        default = fd.default
        if default is not None and default not in picklist:
            default = next((i["value"] for i in items if i.get("default")), picklist[0])
        obj.add(_replace_field(fd, picklist=picklist, default=default,
                               picklist_labels=labels if labels != picklist else ()))
        self.picklist_overrides.setdefault(obj.name, {})[fd.name] = [dict(i) for i in items]

    def sobject_name(self, name: str) -> str | None:
        """Canonical sObject name for any casing, or None when the org has no such object."""
        return self._names.get(name.lower()) if isinstance(name, str) else None

    def table(self, sobject: str) -> Table:
        canonical = self.sobject_name(sobject)
        if canonical is None:
            raise SfError("NOT_FOUND", "The requested resource does not exist", status=404)
        return self.tables[canonical]

    def schema(self, sobject: str) -> ObjectDef:
        return self.table(sobject).obj

    # -- journal ------------------------------------------------------------------------
    def clear_journal(self) -> None:
        """Forget undo entries; called when a request starts (writes so far are committed)."""
        self._journal.clear()
        self.same_save = None   # a save never outlives its request

    def mark(self) -> int:
        return len(self._journal)

    def rollback(self, mark: int) -> None:
        """Undo every write since ``mark`` (allOrNone, composite transactions)."""
        while len(self._journal) > mark:
            self._journal.pop()()

    # -- clock and ids ------------------------------------------------------------------
    def _now(self) -> datetime:
        now = datetime.now(timezone.utc)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if self._last_ts is not None and now <= self._last_ts:
            now = self._last_ts + timedelta(milliseconds=1)
        self._last_ts = now
        return now

    def _note_time(self, text: str | None) -> None:
        dt = parse_datetime(text) if text else None
        if dt is not None and (self._last_ts is None or dt > self._last_ts):
            self._last_ts = dt

    def today(self) -> str:
        return datetime.now(timezone.utc).date().isoformat()

    def _new_id(self, obj: ObjectDef) -> str:
        n = self._counters.get(obj.key_prefix, 0)
        table = self.tables[obj.name]
        while True:
            n += 1
            rid = make_id(obj.key_prefix, n)
            if rid not in table.rows and rid not in table.deleted:
                self._counters[obj.key_prefix] = n
                return rid

    # -- reads --------------------------------------------------------------------------
    def resolve_id(self, sobject: str, value: str) -> tuple[Table, str]:
        """Return (table, id18) for a path id; raise the errors GET/PATCH/DELETE give."""
        table = self.table(sobject)
        rid = to_id18(value)
        if rid is None or rid[:3] != table.obj.key_prefix:
            raise SfError("NOT_FOUND", "Provided external ID field does not exist or is not "
                          f"accessible: {value}", status=404)
        return table, rid

    def live(self, sobject: str, value: str) -> Row:
        """The live row for a path id, or the NOT_FOUND / ENTITY_IS_DELETED error."""
        table, rid = self.resolve_id(sobject, value)
        row = table.rows.get(rid)
        if row is None:
            if rid in table.deleted:
                raise SfError("ENTITY_IS_DELETED", "entity is deleted", [], status=404)
            raise SfError("NOT_FOUND", "The requested resource does not exist", status=404)
        return row

    def get(self, sobject: str, value: str) -> Row | None:
        try:
            return self.live(sobject, value)
        except SfError:
            return None

    def full(self, sobject: str, row: Mapping[str, Any],
             fields: Iterable[str] | None = None) -> dict[str, Any]:
        """A record with every field present (None for empty), in describe order."""
        obj = self.schema(sobject)
        names = fields if fields is not None else obj.fields
        return {n: row.get(n) for n in names}

    def candidates(self, sobject: str, constraints: Mapping[str, Iterable[str]],
                   include_deleted: bool = False) -> list[Row]:
        """Rows a query needs to look at, narrowed by the best usable equality index."""
        table = self.table(sobject)
        best: set[str] | None = None
        for fname, values in (constraints or {}).items():
            fd = table.obj.field(fname)
            if fd is None:
                continue
            idx = table.indexes.get(fd.name)
            if idx is None:
                continue
            ids: set[str] = set()
            for v in values:
                k = Table.key(fd, v)
                if k is not None:
                    ids |= idx.get(k, set())
            if best is None or len(ids) < len(best):
                best = ids
            if not best:
                break
        if best is None:
            rows: list[Row] = list(table.rows.values())
        else:
            rows = sorted((table.rows[i] for i in best), key=lambda r: table.seq[r["Id"]])
        if include_deleted:
            rows = rows + list(table.deleted.values())
        return rows

    def find(self, sobject: str, field_name: str, value: Any) -> list[Row]:
        table = self.table(sobject)
        fd = table.obj.field(field_name)
        if fd is None:
            return []
        return table.lookup(fd.name, value)

    # -- value coercion -----------------------------------------------------------------
    def _label(self, fd: FieldDef) -> str:
        return fd.label or fd.describe()["label"]

    def _coerce(self, obj: ObjectDef, fd: FieldDef, value: Any) -> Any:
        if value is None:
            return False if fd.type == "boolean" else None
        t = fd.type
        if t in STRING_TYPES:
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise _parse_error("string", value)
            text = value if isinstance(value, str) else str(value)
            if text == "":
                return None  # Salesforce stores empty strings as null
            if fd.length and len(text) > fd.length:
                raise SfError("STRING_TOO_LONG", f"{self._label(fd)}: data value too large: "
                              f"{text} (max length={fd.length})", [fd.name])
            if t == "email" and not _EMAIL_RE.match(text):
                raise SfError("INVALID_EMAIL_ADDRESS",
                              f"{self._label(fd)}: invalid email address: {text}", [fd.name])
            if t == "picklist" and fd.restricted and fd.picklist:
                match = next((p for p in fd.picklist if p.lower() == text.lower()), None)
                if match is None:
                    raise SfError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                  f"{self._label(fd)}: bad value for restricted picklist field: "
                                  f"{text}", [fd.name])
                return match
            return text
        if t in ("id", "reference"):
            if not isinstance(value, str):
                raise _parse_error("id", value)
            if value == "":
                return None
            rid = to_id18(value)
            if rid is None:
                raise SfError("MALFORMED_ID", f"{self._label(fd)}: id value of incorrect type: "
                              f"{value}", [fd.name])
            if t == "reference" and fd.reference_to and all(
                    r in self.objects for r in fd.reference_to):
                if PREFIXES.get(rid[:3]) not in fd.reference_to:
                    raise SfError("FIELD_INTEGRITY_EXCEPTION", f"{self._label(fd)}: id value of "
                                  f"incorrect type: {value}", [fd.name])
            return rid
        if t == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise _parse_error("boolean", value)
        if t == "int":
            if isinstance(value, bool):
                raise _parse_error("int", value)
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
                return int(value)
            raise _parse_error("int", value)
        if t in ("double", "currency", "percent"):
            if isinstance(value, bool):
                raise _parse_error("double", value)
            if isinstance(value, (int, float)):
                return float(value)
            try:
                return float(value)
            except (TypeError, ValueError):
                raise _parse_error("double", value) from None
        if t == "date":
            dt = parse_datetime(value) if isinstance(value, str) else None
            if dt is None:
                raise _parse_error("date", value)
            return dt.date().isoformat() if "T" not in value else dt.astimezone(
                timezone.utc).date().isoformat()
        if t == "datetime":
            dt = parse_datetime(value) if isinstance(value, str) else None
            if dt is None:
                raise _parse_error("datetime", value)
            return format_datetime(dt)
        return value

    def _input(self, obj: ObjectDef, fields: Any, *, creating: bool,
               opts: WriteOptions) -> dict[str, Any]:
        """Map request fields to canonical names and coerced values; reject what SF rejects."""
        if not isinstance(fields, Mapping):
            raise SfError("JSON_PARSER_ERROR", "Cannot deserialize instance of "
                          f"{obj.name} from {type(fields).__name__} value", [])
        out: dict[str, Any] = {}
        locked: list[str] = []
        for key, value in fields.items():
            if key == "attributes":
                continue
            fd = obj.field(key)
            if fd is None:
                raise SfError("INVALID_FIELD",
                              f"No such column '{key}' on sobject of type {obj.name}")
            if not opts.trusted and not (fd.createable if creating else fd.updateable):
                locked.append(fd.name)
                continue
            out[fd.name] = value
        if locked:
            if creating and locked == ["Id"]:
                raise SfError("INVALID_FIELD_FOR_INSERT_UPDATE",
                              "cannot specify Id in an insert call", ["Id"])
            raise SfError("INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: "
                          f"{', '.join(locked)}. Please check the security settings of this "
                          "field and verify that it is read/write for your profile or "
                          "permission set.", locked)
        return {name: self._coerce(obj, obj.fields[name], v) for name, v in out.items()}

    # -- checks -------------------------------------------------------------------------
    def _check_refs(self, obj: ObjectDef, values: Mapping[str, Any], opts: WriteOptions) -> None:
        for name, value in values.items():
            fd = obj.fields[name]
            if fd.type != "reference" or value is None:
                continue
            target = PREFIXES.get(value[:3])
            if target is None or (opts.trusted and target == obj.name):
                continue
            table = self.tables[target]
            if value in table.rows:
                continue
            if value in table.deleted:
                raise SfError("ENTITY_IS_DELETED", "entity is deleted", [name])
            raise SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name])

    def _check_required(self, obj: ObjectDef, row: Mapping[str, Any]) -> None:
        missing = [f.name for f in obj.fields.values() if f.required and row.get(f.name) is None]
        if obj.name == "CampaignMember" and not row.get("LeadId") and not row.get("ContactId"):
            missing += ["LeadId", "ContactId"]
        if missing:
            raise SfError("REQUIRED_FIELD_MISSING",
                          f"Required fields are missing: [{', '.join(missing)}]", missing)

    def _check_unique(self, table: Table, row: Mapping[str, Any]) -> None:
        for fd in table.obj.fields.values():
            if not fd.unique or row.get(fd.name) is None:
                continue
            for other in table.lookup(fd.name, row[fd.name]):
                if other["Id"] != row.get("Id"):
                    raise SfError("DUPLICATE_VALUE", f"duplicate value found: {fd.name} "
                                  f"duplicates value on record with id: {other['Id']}", [])

    # -- object rules -------------------------------------------------------------------
    def _statuses(self, campaign_id: str) -> list[Row]:
        rows = self.tables["CampaignMemberStatus"].lookup("CampaignId", campaign_id)
        return sorted(rows, key=lambda r: (r.get("SortOrder") or 0))

    def _member_rules(self, row: Row, old: Row | None, values: Mapping[str, Any],
                      opts: WriteOptions) -> None:
        if old is None:
            lead = self.tables["Lead"].rows.get(row["LeadId"]) if row.get("LeadId") else None
            contact = (self.tables["Contact"].rows.get(row["ContactId"])
                       if row.get("ContactId") else None)
            if lead is not None and lead.get("IsConverted") and not opts.trusted:
                raise SfError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead",
                              ["LeadId"])
            members = self.tables["CampaignMember"]
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
                    account = (self.tables["Account"].rows.get(contact["AccountId"])
                               if contact.get("AccountId") else None)
                    row["CompanyOrAccount"] = account.get("Name") if account else None
                else:
                    row["CompanyOrAccount"] = lead.get("Company") if lead else None
        if old is None or "Status" in values:
            statuses = self._statuses(row["CampaignId"])
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
                self._set_responded(row, bool(match.get("HasResponded")), opts, explicit=values)

    def _set_responded(self, row: Row, responded: bool, opts: WriteOptions,
                       explicit: Mapping[str, Any] = {}) -> None:
        if opts.trusted and "HasResponded" in explicit:
            return  # a dataset's own flags win
        row["HasResponded"] = responded
        if responded and not row.get("FirstRespondedDate"):
            row["FirstRespondedDate"] = self.today()

    def members_of(self, campaign_id: str) -> list[Row]:
        """A campaign's live members (member_status reads them before a status is deleted)."""
        return self.tables["CampaignMember"].lookup("CampaignId", campaign_id)

    def _after_status_write(self, row: Row, old: Row | None) -> None:
        """Keep the campaign's single default and its members' Status/HasResponded in step."""
        if row.get("IsDefault"):
            for other in self._statuses(row["CampaignId"]):
                if other["Id"] != row["Id"] and other.get("IsDefault"):
                    self._replace(self.tables["CampaignMemberStatus"], other,
                                  {"IsDefault": False})
        if old is None:
            return
        label_changed = old["Label"] != row["Label"]
        if label_changed or bool(old.get("HasResponded")) != bool(row.get("HasResponded")):
            members = self.tables["CampaignMember"]
            for m in members.lookup("CampaignId", row["CampaignId"]):
                if (m.get("Status") or "").lower() != old["Label"].lower():
                    continue
                change: dict[str, Any] = {"Status": row["Label"],
                                          "HasResponded": bool(row.get("HasResponded"))}
                if row.get("HasResponded") and not m.get("FirstRespondedDate"):
                    change["FirstRespondedDate"] = self.today()
                self._replace(members, m, change)

    def _before_write(self, obj: ObjectDef, row: Row, old: Row | None,
                      values: Mapping[str, Any], opts: WriteOptions) -> None:
        name = obj.name
        if name in ("Lead", "Contact", "User") and (old is None or {"FirstName", "LastName"} & set(
                values)):
            row["Name"] = " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p)
        if not opts.trusted and values.get("OwnerId") is not None:
            self._check_owner(obj, values["OwnerId"])
        if name == "Lead" and opts.auto_assign and not opts.trusted:
            owner = (self.tables["User"].rows.get(self.assignment_owner_id)
                     or self.tables["Group"].rows.get(self.assignment_owner_id))
            if owner is not None:
                row["OwnerId"] = owner["Id"]
        if self.state_country and name in ADDRESSES:
            self._sync_addresses(obj, row, values)
        if name == "CampaignMember":
            self._member_rules(row, old, values, opts)
        elif name == "CampaignMemberStatus":
            member_status.before_write(self, row, old, opts.trusted)
        elif name == "Task":
            row["IsClosed"] = row.get("Status") == "Completed"
        elif name == "Event":
            self._event_rules(row)
        elif name == "Opportunity":
            row["IsClosed"] = row.get("StageName") in ("Closed Won", "Closed Lost")
            row["IsWon"] = row.get("StageName") == "Closed Won"
        elif name == "Group":
            self._group_rules(row)
        elif name == "QueueSobject" and old is None:
            self._queue_sobject_rules(row, opts)
        if not opts.trusted:
            # Salesforce's order: system checks, then validation rules, then duplicate rules
            self.validation_rules.check(name, row)
            if name in ("Lead", "Contact"):
                self.duplicate_rules.check(self, name, row, old,
                                           allow_save=opts.allow_duplicates,
                                           record_details=opts.record_details,
                                           api_version=opts.api_version,
                                           same_save=self.same_save or ())

    def _event_rules(self, row: Row) -> None:
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

    def _check_owner(self, obj: ObjectDef, owner_id: str) -> None:
        """An owner is an active User, or a queue that takes this sObject (QueueSobject).

        Salesforce answers a queue that cannot own the record (a Contact, an Account, a Task,
        or a queue not set up for the object) as it answers a wrong id type. Simplification:
        the active check applies when OwnerId is written, not to every edit of a record an
        inactive user owns.
        """
        if owner_id[:3] == self.objects["User"].key_prefix:
            user = self.tables["User"].rows.get(owner_id)
            if user is not None and not user.get("IsActive"):
                raise SfError("INACTIVE_OWNER_OR_USER", f"operation performed with inactive "
                              f"user [{owner_id}] as owner of {obj.label.lower()}", [])
            return
        if owner_id[:3] == self.objects["Group"].key_prefix:
            group = self.tables["Group"].rows.get(owner_id)
            if group is not None and (group.get("Type") != "Queue"
                                      or obj.name not in self.queue_sobjects(owner_id)):
                fd = obj.fields["OwnerId"]
                raise SfError("FIELD_INTEGRITY_EXCEPTION", f"{self._label(fd)}: id value of "
                              f"incorrect type: {owner_id}", ["OwnerId"])

    def _group_rules(self, row: Row) -> None:
        """DeveloperName defaults to the Name made an API name, unique in the org."""
        if row.get("DeveloperName"):
            return
        base = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9]", "_", row.get("Name") or "")).strip("_")
        if not base or not base[0].isalpha():
            base = "X" + base
        taken = self.tables["Group"]
        name, n = base[:80], 1
        while any(r["Id"] != row.get("Id") for r in taken.lookup("DeveloperName", name)):
            n += 1
            name = f"{base[:76]}_{n}"
        row["DeveloperName"] = name

    def _queue_sobject_rules(self, row: Row, opts: WriteOptions) -> None:
        group = self.tables["Group"].rows.get(row["QueueId"])
        if group is not None and group.get("Type") != "Queue" and not opts.trusted:
            raise SfError("FIELD_INTEGRITY_EXCEPTION", "Queue ID: id value of incorrect type: "
                          f"{row['QueueId']}", ["QueueId"])
        if row["SobjectType"] in self.queue_sobjects(row["QueueId"]):
            other = next(r for r in self.tables["QueueSobject"].lookup("QueueId", row["QueueId"])
                         if r["SobjectType"] == row["SobjectType"])
            raise SfError("DUPLICATE_VALUE", "duplicate value found: SobjectType duplicates "
                          f"value on record with id: {other['Id']}", [])

    def _sync_addresses(self, obj: ObjectDef, row: Row, values: Mapping[str, Any]) -> None:
        """Keep each address's text and code fields in step, as Salesforce's field syncing does.

        A code sets the text to its integration value, an integration value sets the code;
        both given must agree; removing the country removes the state; a state needs a
        country and must belong to it. Text matches integration values case-insensitively
        and is stored as the canonical name.
        """
        for prefix in ADDRESSES[obj.name]:
            ct, cc = f"{prefix}Country", f"{prefix}CountryCode"
            st, sc = f"{prefix}State", f"{prefix}StateCode"
            if not {ct, cc, st, sc} & set(values):
                continue
            self._sync_country(obj, row, values, ct, cc, st, sc)
            self._sync_state(obj, row, values, ct, cc, st, sc)

    def _sync_country(self, obj: ObjectDef, row: Row, values: Mapping[str, Any],
                      ct: str, cc: str, st: str, sc: str) -> None:
        code, text = values.get(cc), values.get(ct)
        problem = SfError("FIELD_INTEGRITY_EXCEPTION",
                          f"{_COUNTRY_PROBLEM}: {self._label(obj.fields[ct])}", [ct])
        if code is not None:
            if text is not None and text.lower() != COUNTRIES[code].lower():
                raise problem
            row[ct], row[cc] = COUNTRIES[code], code
        elif text is not None:
            code = COUNTRY_BY_NAME.get(text.strip().lower())
            if code is None:
                raise problem
            row[ct], row[cc] = COUNTRIES[code], code
        elif cc in values or ct in values:
            for name in (ct, cc, st, sc):   # no country: no state either
                row.pop(name, None)

    def _sync_state(self, obj: ObjectDef, row: Row, values: Mapping[str, Any],
                    ct: str, cc: str, st: str, sc: str) -> None:
        code, text = values.get(sc), values.get(st)
        country = row.get(cc)
        label = self._label(obj.fields[st])
        problem = SfError("FIELD_INTEGRITY_EXCEPTION", f"{_STATE_PROBLEM}: {label}", [st])
        if (code is not None or text is not None) and country is None:
            raise SfError("FIELD_INTEGRITY_EXCEPTION", "A country/territory must be specified "
                          f"before specifying a state value for field: {label}", [st])
        states = STATES.get(country or "", {})
        if code is not None:
            if code not in states:
                raise SfError("FIELD_INTEGRITY_EXCEPTION", f"The {sc} field contains {code}, "
                              "which isn't an available state. Your administrator can add it "
                              "for you.", [sc])
            if text is not None and text.lower() != states[code].lower():
                raise problem
            row[st], row[sc] = states[code], code
        elif text is not None:
            code = next((c for c, n in states.items() if n.lower() == text.strip().lower()), None)
            if code is None:
                raise problem
            row[st], row[sc] = states[code], code
        elif sc in values or st in values:
            row.pop(st, None)
            row.pop(sc, None)
        elif row.get(sc) is not None and row[sc] not in states:
            raise problem   # the country changed under a state it does not have

    # -- primitive writes (journaled) ---------------------------------------------------
    def _insert(self, table: Table, row: Row) -> None:
        rid = row["Id"]
        self._seq += 1
        table.rows[rid] = row
        table.seq[rid] = self._seq
        table.index(row)

        def undo() -> None:
            table.unindex(table.rows.pop(rid))
            table.seq.pop(rid, None)
        self._journal.append(undo)

    def _replace(self, table: Table, old: Row, changes: Mapping[str, Any],
                 stamp: bool = True) -> Row:
        new = Row(old)
        for k, v in changes.items():
            if v is None:
                new.pop(k, None)
            else:
                new[k] = v
        if stamp:
            now = format_datetime(self._now())
            new["LastModifiedDate"] = new["SystemModstamp"] = now
            new["LastModifiedById"] = self.api_user_id
        self._swap(table, old, new)
        return new

    def _swap(self, table: Table, old: Row, new: Row) -> None:
        table.unindex(old)
        table.rows[old["Id"]] = new
        table.index(new)

        def undo() -> None:
            table.unindex(new)
            table.rows[old["Id"]] = old
            table.index(old)
        self._journal.append(undo)

    def _remove(self, table: Table, row: Row, master_id: str | None = None) -> None:
        """Move a row to the recycle bin (queryAll still sees it); a merge names its master."""
        rid = row["Id"]
        table.unindex(row)
        del table.rows[rid]
        tomb = Row(row)
        tomb["IsDeleted"] = True
        if master_id is not None:
            tomb["MasterRecordId"] = master_id
        tomb["LastModifiedDate"] = tomb["SystemModstamp"] = format_datetime(self._now())
        table.deleted[rid] = tomb

        def undo() -> None:
            table.deleted.pop(rid, None)
            table.rows[rid] = row
            table.index(row)
        self._journal.append(undo)

    # -- public writes ------------------------------------------------------------------
    def create(self, sobject: str, fields: Mapping[str, Any],
               opts: WriteOptions = WriteOptions()) -> str:
        """Validate and insert one record like ``POST /sobjects/{type}/``; return its id."""
        table = self.table(sobject)
        obj = table.obj
        values = self._input(obj, fields, creating=True, opts=opts)
        row = Row()
        for fd in obj.fields.values():
            if fd.default is not None and fd.name not in values:
                row[fd.name] = fd.default
        for k, v in values.items():
            if v is not None:
                row[k] = v
        explicit_id = row.pop("Id", None)
        if explicit_id is not None:
            if explicit_id[:3] != obj.key_prefix:
                raise SfError("MALFORMED_ID", f"Record ID: id value of incorrect type: "
                              f"{explicit_id}", ["Id"])
            if explicit_id in table.rows or explicit_id in table.deleted:
                raise SfError("DUPLICATE_VALUE", f"duplicate value found: Id duplicates value "
                              f"on record with id: {explicit_id}", [])
        self._check_required(obj, row)
        self._check_refs(obj, values, opts)
        if "OwnerId" in obj.fields and not row.get("OwnerId"):
            row["OwnerId"] = self.api_user_id
        self._before_write(obj, row, None, values, opts)
        self._check_unique(table, row)
        row = Row(_compact(row))
        rid = explicit_id or self._new_id(obj)
        row["Id"] = rid
        if explicit_id is not None:
            n = id_number(rid, obj.key_prefix)
            if n is not None and n > self._counters.get(obj.key_prefix, 0):
                self._counters[obj.key_prefix] = n
        now = format_datetime(self._now())
        for name in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
            if row.get(name) is None:
                row[name] = row.get("CreatedDate") or now
            else:
                self._note_time(row[name])
        row.setdefault("CreatedById", self.api_user_id)
        row.setdefault("LastModifiedById", row["CreatedById"])
        row["IsDeleted"] = False
        self._insert(table, row)
        if self.same_save is not None:
            self.same_save.add(rid)
        if obj.name == "Campaign" and not opts.trusted:
            self.add_default_statuses(rid)
        elif obj.name == "CampaignMemberStatus":
            self._after_status_write(row, None)
        return rid

    def add_default_statuses(self, campaign_id: str) -> None:
        """Salesforce's default member statuses for a new campaign: Sent, Responded."""
        for label, responded, default, order in member_status.DEFAULT_STATUSES:
            self.create("CampaignMemberStatus", {"CampaignId": campaign_id, "Label": label,
                                                 "HasResponded": responded, "IsDefault": default,
                                                 "SortOrder": order}, INTERNAL)

    def update(self, sobject: str, record_id: str, fields: Mapping[str, Any],
               opts: WriteOptions = WriteOptions()) -> None:
        """Validate and apply a PATCH to one record."""
        table = self.table(sobject)
        old = self.live(table.obj.name, record_id)
        return self._update_row(table, old, fields, opts)

    def _update_row(self, table: Table, old: Row, fields: Any, opts: WriteOptions) -> None:
        obj = table.obj
        if isinstance(fields, Mapping):
            fields = {k: v for k, v in fields.items()
                      if not (k.lower() == "id" and isinstance(v, str) and to_id18(v) == old["Id"])}
        if obj.name == "Lead" and old.get("IsConverted") and not opts.trusted:
            raise SfError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])
        values = self._input(obj, fields, creating=False, opts=opts)
        row = Row(old)
        for k, v in values.items():
            if v is None:
                row.pop(k, None)
            else:
                row[k] = v
        self._check_required(obj, row)
        self._check_refs(obj, values, opts)
        self._before_write(obj, row, old, values, opts)
        self._check_unique(table, row)
        row = Row(_compact(row))
        now = format_datetime(self._now())
        row["LastModifiedDate"] = row["SystemModstamp"] = now
        row["LastModifiedById"] = self.api_user_id
        self._swap(table, old, row)
        if obj.name == "CampaignMemberStatus":
            self._after_status_write(row, old)

    def delete(self, sobject: str, record_id: str, opts: WriteOptions = WriteOptions()) -> None:
        """Delete a record and what Salesforce deletes with it (members, activities, ...)."""
        table = self.table(sobject)
        row = self.live(table.obj.name, record_id)
        self._delete_row(table, row)

    def _delete_row(self, table: Table, row: Row) -> None:
        name = table.obj.name
        rid = row["Id"]
        if name == "CampaignMemberStatus":
            member_status.before_delete(self, row)
        cascades: list[tuple[str, str]] = {
            "Lead": [("CampaignMember", "LeadId"), ("Task", "WhoId"), ("Event", "WhoId")],
            "Contact": [("CampaignMember", "ContactId"), ("Task", "WhoId"), ("Event", "WhoId")],
            "Account": [("Contact", "AccountId"), ("Task", "WhatId"), ("Event", "WhatId")],
            "Campaign": [("CampaignMember", "CampaignId"), ("Task", "WhatId"),
                         ("Event", "WhatId")],
            "Group": [("QueueSobject", "QueueId")],
        }.get(name, [])
        self._remove(table, row)
        for child, fname in cascades:
            child_table = self.tables[child]
            for other in child_table.lookup(fname, rid):
                if other["Id"] in child_table.rows:
                    self._delete_row(child_table, other)
        if name == "Campaign":
            statuses = self.tables["CampaignMemberStatus"]
            for s in statuses.lookup("CampaignId", rid):
                self._remove(statuses, s)

    def upsert(self, sobject: str, field_name: str, value: Any, fields: Mapping[str, Any],
               opts: WriteOptions = WriteOptions()) -> tuple[str, bool]:
        """Upsert by external id: update the one match, create when none; return (id, created)."""
        table = self.table(sobject)
        fd = self.external_id_field(table.obj, field_name)
        if not isinstance(fields, Mapping):
            raise SfError("JSON_PARSER_ERROR", "Cannot deserialize the request body", [])
        body = {k: v for k, v in fields.items() if k != "attributes"}
        for key in list(body):
            if key.lower() == fd.name.lower():
                if str(body[key]).lower() != str(value).lower():
                    raise SfError("INVALID_FIELD", f"{fd.name}: the value in the request body "
                                  "must match the external id in the URL", [fd.name])
                del body[key]
        if fd.name == "Id":
            if value in (None, ""):
                return self.create(table.obj.name, body, opts), True
            row = self.live(table.obj.name, value)
            self._update_row(table, row, body, opts)
            return row["Id"], False
        matches = table.lookup(fd.name, value)
        if len(matches) > 1:
            raise SfError("MULTIPLE_CHOICES", f"{len(matches)} records match", status=300,
                          extra={"ids": [m["Id"] for m in matches]})
        if matches:
            self._update_row(table, matches[0], body, opts)
            return matches[0]["Id"], False
        body[fd.name] = value
        return self.create(table.obj.name, body, opts), True

    def external_id_field(self, obj: ObjectDef, field_name: str) -> FieldDef:
        fd = obj.field(field_name)
        if fd is None or not (fd.external_id or fd.name == "Id"):
            raise SfError("NOT_FOUND", "The requested resource does not exist", status=404)
        return fd

    # -- lead conversion ----------------------------------------------------------------
    def convert_lead(self, lead_id: str, contact_id: str | None = None,
                     account_id: str | None = None, opportunity_name: str | None = None
                     ) -> dict[str, Any]:
        """Convert a Lead as Salesforce's convertLead does. No opportunity is created unless
        ``opportunity_name`` is given (convertLead's ``doNotCreateOpportunity`` false and its
        ``opportunityName``): then one at the Account, "Prospecting", closing in 30 days, and
        the Lead's ``ConvertedOpportunityId`` names it.

        The lead's campaign memberships move to the contact (ContactId is set on them)
        unless the contact is already a member of that campaign.
        """
        lead = self.live("Lead", lead_id)
        if lead.get("IsConverted"):
            raise SfError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])
        mark = self.mark()
        owner = lead.get("OwnerId")
        if owner is None or owner not in self.tables["User"].rows:
            # a queue cannot own the Account or Contact; convertLead then needs an owner,
            # and the sandbox names the running user
            owner = self.api_user_id
        try:
            contact = self.live("Contact", contact_id) if contact_id else None
            if account_id:
                account_id = self.live("Account", account_id)["Id"]
            elif contact is not None and contact.get("AccountId"):
                account_id = contact["AccountId"]
            else:
                account_id = self.create("Account", _compact({
                    "Name": lead.get("Company"), "Website": lead.get("Website"),
                    "Industry": lead.get("Industry"), "Phone": lead.get("Phone"),
                    "BillingCountry": lead.get("Country"), "BillingCity": lead.get("City"),
                    "OwnerId": owner}), INTERNAL)
            if contact is None:
                contact_id = self.create("Contact", _compact({
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
                opportunity_id = self.create("Opportunity", _compact({
                    "Name": opportunity_name, "AccountId": account_id, "OwnerId": owner,
                    "StageName": "Prospecting", "LeadSource": lead.get("LeadSource"),
                    "CloseDate": (datetime.fromisoformat(self.today()) + timedelta(days=30)).date()
                    .isoformat()}), INTERNAL)
            self._replace(self.tables["Lead"], lead, {
                "ConvertedOpportunityId": opportunity_id,
                "IsConverted": True, "ConvertedContactId": contact_id,
                "ConvertedAccountId": account_id, "ConvertedDate": self.today(),
                "Status": "Closed - Converted"})
            members = self.tables["CampaignMember"]
            contact_row = self.tables["Contact"].rows[contact_id]
            for m in members.lookup("LeadId", lead["Id"]):
                taken = any(o["CampaignId"] == m["CampaignId"]
                            for o in members.lookup("ContactId", contact_id))
                if not taken and not m.get("ContactId"):
                    self._replace(members, m, {"ContactId": contact_id, "Type": "Contact",
                                               "LeadOrContactId": contact_id,
                                               "Email": contact_row.get("Email")})
        except Exception:
            self.rollback(mark)
            raise
        return {"leadId": lead["Id"], "contactId": contact_id, "accountId": account_id,
                "opportunityId": opportunity_id, "success": True}

    # -- merge --------------------------------------------------------------------------
    def merge(self, sobject: str, master_id: str, loser_ids: Iterable[str]) -> dict[str, Any]:
        """Merge up to two records into a master, as SOAP ``merge()`` and Apex ``merge`` do.

        Salesforce's REST API has no merge resource, so this backs an admin endpoint. The
        losers are deleted with ``MasterRecordId`` set to the master: gone from ``query``,
        kept in the recycle bin where ``queryAll`` sees them. Their related records move to
        the master; a CampaignMember whose campaign the master is already in is deleted
        instead (one member per campaign and record). All or nothing.
        """
        name = self.sobject_name(sobject)
        reparent = _MERGE_REPARENT.get(name or "")
        if name is None or reparent is None:
            raise SfError("INVALID_TYPE", f"merge is supported for Lead, Contact and Account, "
                          f"not {sobject}", [])
        table = self.tables[name]
        master = self.live(name, master_id)
        losers = [self.live(name, rid) for rid in dict.fromkeys(loser_ids)]
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
        mark = self.mark()
        updated: list[str] = []
        try:
            for loser in losers:
                for child, fname in reparent:
                    updated += self._reparent(child, fname, loser["Id"], master["Id"])
                self._remove(table, table.rows[loser["Id"]], master_id=master["Id"])
            self._replace(table, table.rows[master["Id"]], {})
        except Exception:
            self.rollback(mark)
            raise
        return {"id": master["Id"], "mergedRecordIds": [r["Id"] for r in losers],
                "updatedRelatedIds": updated, "success": True, "errors": []}

    def _reparent(self, child: str, fname: str, old_id: str, new_id: str) -> list[str]:
        """Point a merged loser's related records at the master; return the moved ids."""
        table = self.tables[child]
        moved = []
        for row in table.lookup(fname, old_id):
            if child == "CampaignMember":
                if any(o["CampaignId"] == row["CampaignId"] for o in table.lookup(fname, new_id)):
                    self._delete_row(table, row)     # the master's own membership stays
                    continue
                changes = {fname: new_id, **self._member_person(row, fname, new_id)}
            else:
                changes = {fname: new_id}
            self._replace(table, row, changes)
            moved.append(row["Id"])
        return moved

    def _member_person(self, member: Row, fname: str, person_id: str) -> dict[str, Any]:
        """A member's copied person fields after its Lead or Contact changed to ``person_id``."""
        if fname == "LeadId" and member.get("ContactId"):
            return {}  # a converted Lead's member reads its Contact, which did not change
        person = self.tables["Lead" if fname == "LeadId" else "Contact"].rows[person_id]
        out = {name: person.get(name) for name in ("FirstName", "LastName", "Name", "Title", "Email")}
        out.update({"LeadOrContactId": person_id, "LeadOrContactOwnerId": person.get("OwnerId")})
        if fname == "LeadId":
            out["CompanyOrAccount"] = person.get("Company")
        else:
            account = (self.tables["Account"].rows.get(person["AccountId"])
                       if person.get("AccountId") else None)
            out["CompanyOrAccount"] = account.get("Name") if account else None
        return out

    # -- dataset ------------------------------------------------------------------------
    def load(self, data: Mapping[str, Any]) -> None:
        """Replace the org with a dataset's ``salesforce`` section; DatasetError when invalid."""
        settings = data.get("settings") or {}
        if not isinstance(settings, Mapping) or set(settings) - {"state_country_picklists"}:
            raise DatasetError("settings: expected an object with state_country_picklists")
        try:
            self.reset(data.get("schema") or None, seed_users=False,
                       state_country=bool(settings.get("state_country_picklists")))
            for sobject, fields in (data.get("picklists") or {}).items():
                if self.sobject_name(sobject) is None:
                    raise ValueError(f"picklists: unknown sObject {sobject!r}")
                for fname, values in (fields or {}).items():
                    self.set_picklist(sobject, fname, values or [])
        except (ValueError, AttributeError, TypeError) as exc:
            raise DatasetError(str(exc)) from exc
        records = data.get("records") or {}
        if not isinstance(records, Mapping):
            raise DatasetError("records: expected an object of sObject name -> list of records")
        by_name: dict[str, list[Any]] = {}
        for name, rows in records.items():
            canonical = self.sobject_name(name)
            if canonical is None:
                raise DatasetError(f"records: unknown sObject {name!r}")
            by_name[canonical] = list(rows or [])
        for name in LOAD_ORDER:
            for i, rec in enumerate(by_name.get(name, [])):
                try:
                    self.create(name, rec, LOAD_OPTIONS)
                except SfError as exc:
                    raise DatasetError(f"records.{name}[{i}]: {exc.code}: {exc.message}") from exc
            if name == "User":
                for i, rec in enumerate(_dataset_list(data, "users")):
                    try:
                        self.create("User", self._user_defaults(rec), LOAD_OPTIONS)
                    except SfError as exc:
                        raise DatasetError(f"users[{i}]: {exc.code}: {exc.message}") from exc
                self._seed_users()
            if name == "QueueSobject":
                for i, rec in enumerate(_dataset_list(data, "queues")):
                    self._load_queue(i, rec)
            if name == "CampaignMemberStatus":
                for campaign_id in list(self.tables["Campaign"].rows):
                    if not self._statuses(campaign_id):
                        self.add_default_statuses(campaign_id)
        self._set_rules(data)
        owner = data.get("assignment_owner_id")
        if owner:
            rid = to_id18(owner)
            if rid is None or (rid not in self.tables["User"].rows
                               and rid not in self.tables["Group"].rows):
                raise DatasetError(f"assignment_owner_id: no User or queue {owner!r}")
            self.assignment_owner_id = rid
        self._journal.clear()

    def setup(self, data: Mapping[str, Any]) -> None:
        """Add a dataset's ``users``, ``queues``, ``settings`` and ``picklists`` to the live
        org, keeping its records (``load`` replaces the org); DatasetError when invalid."""
        if not isinstance(data, Mapping):
            raise DatasetError("expected an object")
        unknown = set(data) - {"users", "queues", "settings", "picklists", "validation_rules",
                               "duplicate_rules"}
        if unknown:
            raise DatasetError(f"unknown keys {sorted(unknown)}: expected users, queues, "
                               "settings, picklists, validation_rules, duplicate_rules")
        settings = data.get("settings") or {}
        if not isinstance(settings, Mapping) or set(settings) - {"state_country_picklists"}:
            raise DatasetError("settings: expected an object with state_country_picklists")
        rules = self._parse_rules(data)     # all or nothing: check the rules before any write
        mark = self.mark()
        try:
            for i, rec in enumerate(_dataset_list(data, "users")):
                try:
                    self.create("User", self._user_defaults(rec), LOAD_OPTIONS)
                except (SfError, TypeError, AttributeError) as exc:
                    raise DatasetError(f"users[{i}]: {exc}") from exc
            for i, rec in enumerate(_dataset_list(data, "queues")):
                self._load_queue(i, rec)
            for sobject, fields in (data.get("picklists") or {}).items():
                for fname, values in (fields or {}).items():
                    try:
                        self.set_picklist(sobject, fname, values or [])
                    except (SfError, ValueError, TypeError) as exc:
                        raise DatasetError(str(exc)) from exc
        except Exception:
            self.rollback(mark)
            raise
        if "state_country_picklists" in settings:
            self.set_state_country_picklists(bool(settings["state_country_picklists"]))
        self._install_rules(*rules)
        self._journal.clear()

    # -- validation and duplicate rules ---------------------------------------------------
    def _parse_rules(self, data: Mapping[str, Any]
                     ) -> tuple[list[validation.ValidationRule], list[dupes.DuplicateRule]]:
        """A dataset's or setup's ``validation_rules`` and ``duplicate_rules``, checked.

        ``duplicate_rules`` is a list of rule objects, or (older datasets) an object of
        sObject -> bool, which means an exact-email rule that blocks (``dupes.legacy_rules``).
        """
        raw_valid = data.get("validation_rules") or []
        if not isinstance(raw_valid, list):
            raise DatasetError("validation_rules: expected a list of rules")
        raw_dupes = data.get("duplicate_rules") or []
        try:
            valid = [validation.build_rule(spec, self.objects, f"validation_rules[{i}]")
                     for i, spec in enumerate(raw_valid)]
            if isinstance(raw_dupes, Mapping):
                dup = dupes.legacy_rules(raw_dupes)
            elif isinstance(raw_dupes, list):
                dup = [dupes.build_rule(spec, f"duplicate_rules[{i}]")
                       for i, spec in enumerate(raw_dupes)]
            else:
                raise DatasetError("duplicate_rules: expected a list of rules")
        except (validation.RuleError, dupes.RuleError) as exc:
            raise DatasetError(str(exc)) from exc
        return valid, dup

    def _install_rules(self, valid: Iterable[validation.ValidationRule],
                       dup: Iterable[dupes.DuplicateRule]) -> None:
        for rule in valid:
            self.validation_rules.put(rule)
        for drule in dup:
            self.duplicate_rules.put(drule)

    def _set_rules(self, data: Mapping[str, Any]) -> None:
        self._install_rules(*self._parse_rules(data))

    def _load_queue(self, i: int, rec: Any) -> None:
        """A dataset ``queues`` entry: {Name, DeveloperName?, Id?, Email?, sobjects?}."""
        if not isinstance(rec, Mapping) or not isinstance(rec.get("Name"), str):
            raise DatasetError(f"queues[{i}]: expected an object with a Name")
        unknown = set(rec) - {"Name", "DeveloperName", "Id", "Email", "sobjects"}
        if unknown:
            raise DatasetError(f"queues[{i}]: unknown keys {sorted(unknown)}")
        sobjects = rec.get("sobjects", ["Lead"])
        if isinstance(sobjects, str) or not isinstance(sobjects, list):
            raise DatasetError(f"queues[{i}].sobjects: expected a list of sObject names")
        try:
            self.add_queue(rec["Name"], developer_name=rec.get("DeveloperName"),
                           sobjects=sobjects, email=rec.get("Email"), queue_id=rec.get("Id"))
        except SfError as exc:
            raise DatasetError(f"queues[{i}]: {exc.code}: {exc.message}") from exc

    def dump(self) -> dict[str, Any]:
        """The dataset that ``load`` turns back into this org (deleted rows are not kept)."""
        return {
            "settings": {"state_country_picklists": self.state_country},
            "picklists": {k: dict(v) for k, v in self.picklist_overrides.items()},
            "duplicate_rules": self.duplicate_rules.dump(),
            "validation_rules": self.validation_rules.dump(),
            "assignment_owner_id": self.assignment_owner_id,
            "schema": custom_schema_dump(self.objects),
            "records": {name: [dict(r) for r in self.tables[name].rows.values()]
                        for name in LOAD_ORDER if self.tables[name].rows},
        }


# What a merge moves from each loser to the master: (child object, its lookup field).
_MERGE_REPARENT: dict[str, list[tuple[str, str]]] = {
    "Lead": [("CampaignMember", "LeadId"), ("Task", "WhoId"), ("Event", "WhoId")],
    "Contact": [("CampaignMember", "ContactId"), ("Task", "WhoId"), ("Event", "WhoId")],
    "Account": [("Contact", "AccountId"), ("Task", "WhatId"), ("Event", "WhatId")],
}


def _dataset_list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise DatasetError(f"{key}: expected a list")
    return value


def _backfill_codes(row: Row, prefix: str) -> None:
    """Fill an existing record's address codes from text that is an integration value."""
    code = COUNTRY_BY_NAME.get(str(row.get(f"{prefix}Country") or "").strip().lower())
    if code is None:
        return
    row[f"{prefix}Country"], row[f"{prefix}CountryCode"] = COUNTRIES[code], code
    state = str(row.get(f"{prefix}State") or "").strip().lower()
    for scode, name in STATES.get(code, {}).items():
        if name.lower() == state:
            row[f"{prefix}State"], row[f"{prefix}StateCode"] = name, scode


def _compact(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _url(version: str, sobject: str, rid: str) -> str:
    return f"/services/data/v{version}/sobjects/{sobject}/{rid}"


def _parse_error(kind: str, value: Any) -> SfError:
    token = "VALUE_STRING" if isinstance(value, str) else (
        "VALUE_TRUE" if value is True else "VALUE_FALSE" if value is False else
        "START_OBJECT" if isinstance(value, dict) else "START_ARRAY" if isinstance(value, list)
        else "VALUE_NUMBER")
    return SfError("JSON_PARSER_ERROR", f"Cannot deserialize instance of {kind} from {token} "
                   f"value {value} or request may be missing a required field", [])


ROLLED_BACK_MESSAGE = _ROLLED_BACK
