"""Org setup and datasets: users, queues, picklists, rules, and the dataset load/setup/dump.

Split out of ``sf_store``: shaping an org (who can own records, which queues exist, an
org's own picklist values, validation and duplicate rules) and turning a dataset's
``salesforce`` section into an org and back are admin work, not record saves, with their
own ``DatasetError`` messages naming the entry at fault. Each function takes the store.
"""

from __future__ import annotations

import re
from dataclasses import replace as _replace_field
from typing import Any, Iterable, Mapping

from . import dupes, validation
from .sf_address import set_state_country_picklists
from .sf_errors import SfError
from .sf_records import INTERNAL, LOAD_OPTIONS, DatasetError, OrgStore, compact
from .sf_rules import campaign_statuses
from .sf_schema import LOAD_ORDER, custom_schema_dump, to_id18

__all__ = ["add_user", "user_defaults", "add_queue", "set_picklist", "load", "setup", "dump"]


def add_user(store: OrgStore, last_name: str, *, first_name: str | None = None,
             email: str | None = None, username: str | None = None, active: bool = True,
             user_id: str | None = None, **fields: Any) -> str:
    """Add a User (a possible owner); Username and Email default to a sandbox address."""
    rec = compact({"LastName": last_name, "FirstName": first_name, "Email": email,
                   "Username": username, "IsActive": active, "Id": user_id, **fields})
    return store.create("User", user_defaults(store, rec), LOAD_OPTIONS)


def user_defaults(store: OrgStore, rec: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(rec)
    if not out.get("Email") or not out.get("Username"):
        base = re.sub(r"[^a-z0-9]+", ".", " ".join(
            str(out.get(k) or "") for k in ("FirstName", "LastName")).lower()).strip(".")
        base = base or "user"
        address, n = f"{base}@leadsync.sandbox", 1
        while store.tables["User"].lookup("Username", address):
            n += 1
            address = f"{base}{n}@leadsync.sandbox"
        out.setdefault("Email", out.get("Username") or address)
        out.setdefault("Username", address)
    return out


def add_queue(store: OrgStore, name: str, *, developer_name: str | None = None,
              sobjects: Iterable[str] = ("Lead",), email: str | None = None,
              queue_id: str | None = None) -> str:
    """Add a queue (Group Type 'Queue') and a QueueSobject row for each sObject it owns."""
    mark = store.mark()
    try:
        gid = store.create("Group", compact({
            "Name": name, "DeveloperName": developer_name, "Type": "Queue",
            "Email": email, "Id": queue_id}), LOAD_OPTIONS)
        for sobject in sobjects:
            store.create("QueueSobject", {"QueueId": gid, "SobjectType": sobject},
                         INTERNAL)
    except Exception:
        store.rollback(mark)
        raise
    return gid


def set_picklist(store: OrgStore, sobject: str, field_name: str, values: Iterable[Any]) -> None:
    """Replace a picklist's values (an org's own Lead Status list, say); ValueError if wrong."""
    obj = store.schema(sobject)
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
    store.picklist_overrides.setdefault(obj.name, {})[fd.name] = [dict(i) for i in items]


def load(store: OrgStore, data: Mapping[str, Any]) -> None:
    """Replace the org with a dataset's ``salesforce`` section; DatasetError when invalid."""
    settings = data.get("settings") or {}
    if not isinstance(settings, Mapping) or set(settings) - {"state_country_picklists"}:
        raise DatasetError("settings: expected an object with state_country_picklists")
    try:
        store.reset(data.get("schema") or None, seed_users=False,
                    state_country=bool(settings.get("state_country_picklists")))
        for sobject, fields in (data.get("picklists") or {}).items():
            if store.sobject_name(sobject) is None:
                raise ValueError(f"picklists: unknown sObject {sobject!r}")
            for fname, values in (fields or {}).items():
                set_picklist(store, sobject, fname, values or [])
    except (ValueError, AttributeError, TypeError) as exc:
        raise DatasetError(str(exc)) from exc
    records = data.get("records") or {}
    if not isinstance(records, Mapping):
        raise DatasetError("records: expected an object of sObject name -> list of records")
    by_name: dict[str, list[Any]] = {}
    for name, rows in records.items():
        canonical = store.sobject_name(name)
        if canonical is None:
            raise DatasetError(f"records: unknown sObject {name!r}")
        by_name[canonical] = list(rows or [])
    for name in LOAD_ORDER:
        for i, rec in enumerate(by_name.get(name, [])):
            try:
                store.create(name, rec, LOAD_OPTIONS)
            except SfError as exc:
                raise DatasetError(f"records.{name}[{i}]: {exc.code}: {exc.message}") from exc
        if name == "User":
            for i, rec in enumerate(_dataset_list(data, "users")):
                try:
                    store.create("User", user_defaults(store, rec), LOAD_OPTIONS)
                except SfError as exc:
                    raise DatasetError(f"users[{i}]: {exc.code}: {exc.message}") from exc
            store._seed_users()
        if name == "QueueSobject":
            for i, rec in enumerate(_dataset_list(data, "queues")):
                _load_queue(store, i, rec)
        if name == "CampaignMemberStatus":
            for campaign_id in list(store.tables["Campaign"].rows):
                if not campaign_statuses(store, campaign_id):
                    store.add_default_statuses(campaign_id)
    _set_rules(store, data)
    owner = data.get("assignment_owner_id")
    if owner:
        rid = to_id18(owner)
        if rid is None or (rid not in store.tables["User"].rows
                           and rid not in store.tables["Group"].rows):
            raise DatasetError(f"assignment_owner_id: no User or queue {owner!r}")
        store.assignment_owner_id = rid
    store._journal.clear()


def setup(store: OrgStore, data: Mapping[str, Any]) -> None:
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
    rules = _parse_rules(store, data)     # all or nothing: check the rules before any write
    mark = store.mark()
    try:
        for i, rec in enumerate(_dataset_list(data, "users")):
            try:
                store.create("User", user_defaults(store, rec), LOAD_OPTIONS)
            except (SfError, TypeError, AttributeError) as exc:
                raise DatasetError(f"users[{i}]: {exc}") from exc
        for i, rec in enumerate(_dataset_list(data, "queues")):
            _load_queue(store, i, rec)
        for sobject, fields in (data.get("picklists") or {}).items():
            for fname, values in (fields or {}).items():
                try:
                    set_picklist(store, sobject, fname, values or [])
                except (SfError, ValueError, TypeError) as exc:
                    raise DatasetError(str(exc)) from exc
    except Exception:
        store.rollback(mark)
        raise
    if "state_country_picklists" in settings:
        set_state_country_picklists(store, bool(settings["state_country_picklists"]))
    _install_rules(store, *rules)
    store._journal.clear()


# -- validation and duplicate rules ---------------------------------------------------
def _parse_rules(store: OrgStore, data: Mapping[str, Any]
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
        valid = [validation.build_rule(spec, store.objects, f"validation_rules[{i}]")
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


def _install_rules(store: OrgStore, valid: Iterable[validation.ValidationRule],
                   dup: Iterable[dupes.DuplicateRule]) -> None:
    for rule in valid:
        store.validation_rules.put(rule)
    for drule in dup:
        store.duplicate_rules.put(drule)


def _set_rules(store: OrgStore, data: Mapping[str, Any]) -> None:
    _install_rules(store, *_parse_rules(store, data))


def _load_queue(store: OrgStore, i: int, rec: Any) -> None:
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
        add_queue(store, rec["Name"], developer_name=rec.get("DeveloperName"),
                  sobjects=sobjects, email=rec.get("Email"), queue_id=rec.get("Id"))
    except SfError as exc:
        raise DatasetError(f"queues[{i}]: {exc.code}: {exc.message}") from exc


def dump(store: OrgStore) -> dict[str, Any]:
    """The dataset that ``load`` turns back into this org (deleted rows are not kept)."""
    return {
        "settings": {"state_country_picklists": store.state_country},
        "picklists": {k: dict(v) for k, v in store.picklist_overrides.items()},
        "duplicate_rules": store.duplicate_rules.dump(),
        "validation_rules": store.validation_rules.dump(),
        "assignment_owner_id": store.assignment_owner_id,
        "schema": custom_schema_dump(store.objects),
        "records": {name: [dict(r) for r in store.tables[name].rows.values()]
                    for name in LOAD_ORDER if store.tables[name].rows},
    }


def _dataset_list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise DatasetError(f"{key}: expected a list")
    return value
