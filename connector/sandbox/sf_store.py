"""The emulated Salesforce org's records: validation, ids, indexes, rules and rollback.

Every Salesforce rule a connector can trip over is reached from here, once, so that
single-record REST calls, sObject Collections, composite subrequests, admin operations and
the Python helpers all behave alike. The store is not thread-safe by itself: callers hold
the sandbox's app lock around every call.

This module keeps the ``Store`` itself: its tables, journal, clock and ids, reads, and the
create/update/delete/upsert saves. The rest lives beside it, in plain functions taking the
store: ``sf_records`` (Row, Table, WriteOptions, timestamps), ``sf_coerce`` (request values
to stored values), ``sf_rules`` (what a save checks and derives per object), ``sf_address``
(State and Country/Territory Picklists), ``sf_org_ops`` (convertLead, merge) and
``sf_dataset`` (users, queues, picklists, dataset load/setup/dump). The names other modules
import from here are re-exported, so ``from .sf_store import Store, Row, ...`` keeps working.
Writes are journaled per request so ``allOrNone`` and composite rollbacks are exact.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Mapping

from . import dupes, member_status, sf_dataset, sf_org_ops, validation
from .sf_address import set_state_country_picklists as _set_state_country
from .sf_coerce import input_values
from .sf_errors import SfError
from .sf_records import (API_USER_ID, DEFAULT_USERS, INTERNAL, LOAD_OPTIONS, QUEUE_USER_ID,
                         ROLLED_BACK_MESSAGE, DatasetError, Row, Table, WriteOptions, compact,
                         format_datetime, parse_datetime)
from .sf_rules import (after_status_write, before_write, check_refs, check_required,
                       check_unique, campaign_statuses)
from .sf_schema import (EXTERNAL_ID_FIELD, FieldDef, ObjectDef, build_objects, id_number,
                        make_id, to_id18)

__all__ = ["SfError", "Row", "WriteOptions", "Store", "DatasetError", "format_datetime",
           "EXTERNAL_ID_FIELD", "API_USER_ID", "QUEUE_USER_ID", "DEFAULT_USERS", "INTERNAL",
           "LOAD_OPTIONS", "ROLLED_BACK_MESSAGE", "Table", "parse_datetime"]


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

    # -- org setup: users, queues, settings (sf_dataset, sf_address) -----------------------
    def add_user(self, last_name: str, *, first_name: str | None = None,
                 email: str | None = None, username: str | None = None, active: bool = True,
                 user_id: str | None = None, **fields: Any) -> str:
        """Add a User (a possible owner); Username and Email default to a sandbox address."""
        return sf_dataset.add_user(self, last_name, first_name=first_name, email=email,
                                   username=username, active=active, user_id=user_id, **fields)

    def add_queue(self, name: str, *, developer_name: str | None = None,
                  sobjects: Iterable[str] = ("Lead",), email: str | None = None,
                  queue_id: str | None = None) -> str:
        """Add a queue (Group Type 'Queue') and a QueueSobject row for each sObject it owns."""
        return sf_dataset.add_queue(self, name, developer_name=developer_name,
                                    sobjects=sobjects, email=email, queue_id=queue_id)

    def queue_sobjects(self, queue_id: str) -> set[str]:
        """The sObject types a queue may own (its QueueSobject rows)."""
        return {r["SobjectType"] for r in self.tables["QueueSobject"].lookup("QueueId", queue_id)}

    def set_state_country_picklists(self, on: bool) -> None:
        """Turn State and Country/Territory Picklists on or off for the org (sf_address)."""
        _set_state_country(self, on)

    def set_picklist(self, sobject: str, field_name: str, values: Iterable[Any]) -> None:
        """Replace a picklist's values (an org's own Lead Status list, say); ValueError if wrong."""
        sf_dataset.set_picklist(self, sobject, field_name, values)

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

    # -- campaign statuses (member_status reads them) --------------------------------------
    def _statuses(self, campaign_id: str) -> list[Row]:
        return campaign_statuses(self, campaign_id)

    def members_of(self, campaign_id: str) -> list[Row]:
        """A campaign's live members (member_status reads them before a status is deleted)."""
        return self.tables["CampaignMember"].lookup("CampaignId", campaign_id)

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
        values = input_values(self.objects, obj, fields, creating=True, opts=opts)
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
        check_required(obj, row)
        check_refs(self, obj, values, opts)
        if "OwnerId" in obj.fields and not row.get("OwnerId"):
            row["OwnerId"] = self.api_user_id
        before_write(self, obj, row, None, values=values, opts=opts)
        check_unique(table, row)
        row = Row(compact(row))
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
            after_status_write(self, row, None)
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
        values = input_values(self.objects, obj, fields, creating=False, opts=opts)
        row = Row(old)
        for k, v in values.items():
            if v is None:
                row.pop(k, None)
            else:
                row[k] = v
        check_required(obj, row)
        check_refs(self, obj, values, opts)
        before_write(self, obj, row, old, values=values, opts=opts)
        check_unique(table, row)
        row = Row(compact(row))
        now = format_datetime(self._now())
        row["LastModifiedDate"] = row["SystemModstamp"] = now
        row["LastModifiedById"] = self.api_user_id
        self._swap(table, old, row)
        if obj.name == "CampaignMemberStatus":
            after_status_write(self, row, old)

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
               *, opts: WriteOptions = WriteOptions()) -> tuple[str, bool]:
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

    # -- org operations (sf_org_ops) -------------------------------------------------------
    def convert_lead(self, lead_id: str, contact_id: str | None = None,
                     account_id: str | None = None, opportunity_name: str | None = None
                     ) -> dict[str, Any]:
        """Convert a Lead as Salesforce's convertLead does (``sf_org_ops.convert_lead``)."""
        return sf_org_ops.convert_lead(self, lead_id, contact_id, account_id,
                                       opportunity_name=opportunity_name)

    def merge(self, sobject: str, master_id: str, loser_ids: Iterable[str]) -> dict[str, Any]:
        """Merge up to two records into a master, as SOAP ``merge()`` does (``sf_org_ops``)."""
        return sf_org_ops.merge(self, sobject, master_id, loser_ids)

    # -- dataset (sf_dataset) --------------------------------------------------------------
    def load(self, data: Mapping[str, Any]) -> None:
        """Replace the org with a dataset's ``salesforce`` section; DatasetError when invalid."""
        sf_dataset.load(self, data)

    def setup(self, data: Mapping[str, Any]) -> None:
        """Add a dataset's users, queues, settings, picklists and rules to the live org."""
        sf_dataset.setup(self, data)

    def dump(self) -> dict[str, Any]:
        """The dataset that ``load`` turns back into this org (deleted rows are not kept)."""
        return sf_dataset.dump(self)
