"""Relationship queries and aggregates on top of the SOQL subset in ``soql``.

``soql`` parses and filters one object's rows; this module adds what crosses objects or rows:
parent fields (``Owner.Name``, ``Campaign.Name`` on CampaignMember, ``Lead.Email``), child
subqueries (``SELECT Id, (SELECT Id FROM CampaignMembers) FROM Campaign``) and ``GROUP BY``
with COUNT, COUNT_DISTINCT, SUM, AVG, MIN, MAX. Reply shapes follow the REST and SOQL guides
(docs/sandbox-org-rules.md, section 8): a parent is a nested record with its own
``attributes`` (or ``null``), a subquery is ``{"totalSize", "done", "records"}`` (or
``null`` when there are no children), an aggregate row has ``attributes.type =
"AggregateResult"`` and names an unaliased aggregate ``expr0``, ``expr1``, ...

How: the SELECT list is read here from ``soql``'s tokens; the rest of the statement goes to
``soql.parse`` as ``SELECT Id FROM <object> <rest>``, and each record is given its parent
paths as flat keys (``"Owner.Name"``) that ``soql`` resolves like fields, so WHERE and ORDER
BY on parent fields use the same evaluator as every other query.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol, Sequence

from . import soql
from .sf_schema import PREFIXES
from .soql import SoqlError

__all__ = ["wanted", "parse", "run", "RelResult", "CHILDREN", "is_aggregate"]

# (parent object, child relationship name) -> (child object, its lookup to the parent)
CHILDREN: dict[tuple[str, str], tuple[str, str]] = {
    ("Campaign", "CampaignMembers"): ("CampaignMember", "CampaignId"),
    ("Lead", "CampaignMembers"): ("CampaignMember", "LeadId"),
    ("Contact", "CampaignMembers"): ("CampaignMember", "ContactId"),
    ("Account", "Contacts"): ("Contact", "AccountId"),
    ("Account", "ChildAccounts"): ("Account", "ParentId"),
    ("Campaign", "ChildCampaigns"): ("Campaign", "ParentId"),
    ("Lead", "Tasks"): ("Task", "WhoId"),
    ("Contact", "Tasks"): ("Task", "WhoId"),
    ("Account", "Tasks"): ("Task", "WhatId"),
    ("Campaign", "Tasks"): ("Task", "WhatId"),
    ("Lead", "Events"): ("Event", "WhoId"),
    ("Contact", "Events"): ("Event", "WhoId"),
    ("Account", "Events"): ("Event", "WhatId"),
    ("Campaign", "Events"): ("Event", "WhatId"),
    ("Group", "QueueSobjects"): ("QueueSobject", "QueueId"),
}
# A polymorphic lookup (several targets) is read through the "Name" object's fields.
_NAME_FIELDS = {"id": "id", "name": "string", "type": "string", "alias": "string",
                "email": "email", "firstname": "string", "lastname": "string", "title": "string",
                "phone": "phone", "isactive": "boolean", "username": "string"}
AGGREGATES = ("COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX")
_HEAD_RE = re.compile(r"\bfrom\b", re.I)
_GROUP_RE = re.compile(r"\bgroup\s+by\b", re.I)


class RelHost(Protocol):
    """What this module reads from the store."""

    @property
    def tables(self) -> Mapping[str, Any]:   # read-only, so Store's dict[str, Table] fits
        ...

    def sobject_name(self, name: str) -> str | None:
        ...

    def schema(self, sobject: str) -> Any:
        ...

    def candidates(self, sobject: str, constraints: Mapping[str, Iterable[Any]],
                   include_deleted: bool = False) -> list[Any]:
        ...


def wanted(text: str) -> bool:
    """Cheap test: could this query need relationships or aggregates? (False: plain path.)"""
    m = _HEAD_RE.search(text)
    head = text[:m.start()] if m else text
    if "." in head or ("(" in head and not re.fullmatch(r"\s*select\s+count\s*\(\s*\)\s*", head, re.I)):
        return True
    return bool(_GROUP_RE.search(text))


# -- parsing -------------------------------------------------------------------------------

@dataclass
class _Item:
    kind: str                       # field | agg | sub
    path: str = ""                  # field path as written, or the aggregate's argument
    func: str = ""
    alias: str | None = None
    sub: "_Select | None" = None
    pos: int = 0


@dataclass
class _Select:
    source: str
    items: list[_Item]
    sobject: str                    # as written after FROM (a relationship name in a subquery)
    rest: str                       # the text after the object name, GROUP BY removed
    group_by: list[tuple[str, int]] = field(default_factory=list)
    order_text: str = ""            # ORDER BY ... LIMIT/OFFSET of an aggregate query
    cache: dict[str, Any] = field(default_factory=dict)   # a subquery's plan, made once

    @property
    def count_only(self) -> bool:
        return (len(self.items) == 1 and self.items[0].kind == "agg"
                and self.items[0].func == "COUNT" and not self.items[0].path and not self.group_by)


def is_aggregate(sel: _Select) -> bool:
    """GROUP BY or an aggregate function (COUNT() alone is the plain record count)."""
    return not sel.count_only and (bool(sel.group_by) or any(i.kind == "agg" for i in sel.items))


def _malformed(source: str, pos: int, text: str) -> SoqlError:
    return soql._malformed(source, pos, text)


def _parse_select(source: str, tokens: Sequence[soql.Token], i: int, nested: bool) -> tuple[_Select, int]:
    """Read ``SELECT items FROM object [rest]`` from tokens[i:]; return it and the end index."""
    if not (tokens[i].kind == soql.IDENT and tokens[i].value.upper() == "SELECT"):
        raise _malformed(source, tokens[i].pos, f"unexpected token: '{tokens[i].value}'")
    i += 1
    items: list[_Item] = []
    while True:
        tok = tokens[i]
        if tok.kind == soql.LPAREN:
            if nested:
                raise _malformed(source, tok.pos, "unexpected token: '('")   # one level only
            depth, j = 0, i
            while True:
                if tokens[j].kind == soql.LPAREN:
                    depth += 1
                elif tokens[j].kind == soql.RPAREN:
                    depth -= 1
                    if depth == 0:
                        break
                elif tokens[j].kind == soql.EOF:
                    raise _malformed(source, tokens[j].pos, "expecting a right parentheses, found '<EOF>'")
                j += 1
            inner_src = source[tokens[i].end:tokens[j].pos]
            sub, _ = _parse_select(inner_src, soql.tokenize(inner_src), 0, True)
            items.append(_Item("sub", sub=sub, pos=tok.pos))
            i = j + 1
        elif tok.kind == soql.IDENT and tokens[i + 1].kind == soql.LPAREN:
            func = tok.value.upper()
            if func not in AGGREGATES:
                raise _malformed(source, tok.pos, f"the sandbox does not support the function '{tok.value}'")
            arg = ""
            j = i + 2
            if tokens[j].kind == soql.IDENT:
                arg = tokens[j].value
                j += 1
            if tokens[j].kind != soql.RPAREN or (not arg and func != "COUNT"):
                raise _malformed(source, tokens[j].pos, f"unexpected token: '{tokens[j].value}'")
            i = j + 1
            item = _Item("agg", path=arg, func=func, pos=tok.pos)
            if tokens[i].kind == soql.IDENT and tokens[i].value.upper() not in ("FROM",):
                item.alias = tokens[i].value
                i += 1
            items.append(item)
        elif tok.kind == soql.IDENT and tok.value.upper() != "FROM":
            item = _Item("field", path=tok.value, pos=tok.pos)
            i += 1
            if tokens[i].kind == soql.IDENT and tokens[i].value.upper() != "FROM":
                item.alias = tokens[i].value
                i += 1
            items.append(item)
        else:
            raise _malformed(source, tok.pos, f"unexpected token: '{tok.value or '<EOF>'}'")
        if tokens[i].kind == soql.COMMA:
            i += 1
            continue
        break
    if not (tokens[i].kind == soql.IDENT and tokens[i].value.upper() == "FROM"):
        raise _malformed(source, tokens[i].pos, f"unexpected token: '{tokens[i].value or '<EOF>'}'")
    obj_tok = tokens[i + 1]
    if obj_tok.kind != soql.IDENT:
        raise _malformed(source, obj_tok.pos, f"unexpected token: '{obj_tok.value or '<EOF>'}'")
    sel = _Select(source, items, obj_tok.value, "")
    i += 2
    rest_start = obj_tok.end
    group_at = next((k for k in range(i, len(tokens) - 1) if tokens[k].kind == soql.IDENT
                     and tokens[k].value.upper() == "GROUP" and tokens[k + 1].kind == soql.IDENT
                     and tokens[k + 1].value.upper() == "BY"), None)
    if group_at is None:
        sel.rest = source[rest_start:]
        if is_aggregate(sel):     # ORDER BY may name an aggregate: soql_agg reads the tail
            tail = next((k for k in range(i, len(tokens)) if tokens[k].kind == soql.IDENT
                         and tokens[k].value.upper() in ("ORDER", "LIMIT", "OFFSET")), None)
            if tail is not None:
                sel.rest = source[rest_start:tokens[tail].pos]
                sel.order_text = source[tokens[tail].pos:]
        return sel, len(tokens)
    k = group_at + 2
    while True:
        if tokens[k].kind != soql.IDENT:
            raise _malformed(source, tokens[k].pos, f"unexpected token: '{tokens[k].value or '<EOF>'}'")
        sel.group_by.append((tokens[k].value, tokens[k].pos))
        k += 1
        if tokens[k].kind != soql.COMMA:
            break
        k += 1
    if tokens[k].kind == soql.IDENT and tokens[k].value.upper() == "HAVING":
        raise _malformed(source, tokens[k].pos, "the sandbox does not support HAVING")
    sel.rest = source[rest_start:tokens[group_at].pos]
    sel.order_text = source[tokens[k].pos:] if tokens[k].kind != soql.EOF else ""
    return sel, len(tokens)


# -- relationships -------------------------------------------------------------------------

def _parent_rel(obj: Any, name: str) -> Any | None:
    """The reference field behind a parent relationship name (Owner -> OwnerId, X__r -> X__c)."""
    low = name.lower()
    for fd in obj.fields.values():
        if fd.type != "reference" or not fd.reference_to:
            continue
        rel = fd.name[:-3] + "__r" if fd.name.endswith("__c") else (
            fd.name[:-2] if fd.name.endswith("Id") else None)
        if rel is not None and rel.lower() == low:
            return fd
    return None


def _resolve_path(store: RelHost, sobject: str, path: str, source: str, *, pos: int
                  ) -> tuple[str, list[Any], str]:
    """(canonical path, [reference fields walked], field type) or INVALID_FIELD."""
    parts = path.split(".")
    obj = store.schema(sobject)
    if len(parts) > 1 and parts[0].lower() == sobject.lower() and _parent_rel(obj, parts[0]) is None:
        parts = parts[1:]      # "Lead.Email" in a query FROM Lead is just Email
    hops: list[Any] = []
    names: list[str] = []
    targets: tuple[str, ...] = (obj.name,)
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if len(targets) > 1:     # polymorphic: only the Name object's fields, and no deeper
            ftype = _NAME_FIELDS.get(part.lower())
            if not last or ftype is None:
                raise soql._invalid_field(source, pos, f"No such column '{part}' on entity 'Name'. "
                                          "If you are attempting to use a custom field, be sure to "
                                          "append the '__c' after the custom field name. Please "
                                          "reference your WSDL or the describe call for the "
                                          "appropriate names.")
            names.append({"id": "Id", "isactive": "IsActive", "firstname": "FirstName",
                          "lastname": "LastName", "username": "Username"}.get(part.lower(), part.capitalize()))
            return ".".join(names), hops, ftype
        current = store.schema(targets[0])
        if last:
            fd = current.field(part)
            if fd is None:
                raise soql._invalid_field(source, pos, f"No such column '{part}' on entity "
                                          f"'{current.name}'. If you are attempting to use a custom "
                                          "field, be sure to append the '__c' after the custom field "
                                          "name. Please reference your WSDL or the describe call for "
                                          "the appropriate names.")
            names.append(fd.name)
            return ".".join(names), hops, ("string" if fd.type == "combobox" else fd.type)
        ref = _parent_rel(current, part)
        if ref is None:
            raise soql._invalid_field(source, pos, f"Didn't understand relationship '{part}' in field "
                                      "path. If you are attempting to use a custom relationship, be "
                                      "sure to append the '__r' after the custom relationship name. "
                                      "Please reference your WSDL or the describe call for the "
                                      "appropriate names.")
        hops.append(ref)
        names.append(ref.name[:-3] + "__r" if ref.name.endswith("__c") else ref.name[:-2])
        targets = tuple(t for t in ref.reference_to if store.sobject_name(t))
    raise soql._invalid_field(source, pos, f"No such column '{path}'")


def _walk(store: RelHost, row: Mapping[str, Any], hops: Sequence[Any]) -> list[tuple[str, Any]]:
    """The records along a path: [(type, row)], stopping at the first missing parent."""
    out: list[tuple[str, Any]] = []
    current = row
    for ref in hops:
        rid = current.get(ref.name)
        target = PREFIXES.get(rid[:3]) if isinstance(rid, str) else None
        if target is None or target not in store.tables:
            break
        parent = store.tables[target].rows.get(rid)
        if parent is None:
            break
        out.append((target, parent))
        current = parent
    return out


def _name_value(sobject: str, row: Mapping[str, Any], field_name: str) -> Any:
    if field_name == "Type":
        return row.get("Type") if sobject == "Group" else sobject
    return row.get(field_name)


# -- running -------------------------------------------------------------------------------

@dataclass
class RelResult:
    rows: list[dict[str, Any]]
    total: int
    aggregate: bool = False
    count_only: bool = False
    fields: tuple[str, ...] = ()


@dataclass
class _Plan:
    sobject: str
    paths: dict[str, tuple[str, list[Any], str]]     # written lower -> (canonical, hops, type)
    schema: dict[str, str]


def _plan(store: RelHost, sobject: str, sel: _Select, extra: Iterable[tuple[str, int]]) -> _Plan:
    obj = store.schema(sobject)
    schema = dict(obj.types())
    paths: dict[str, tuple[str, list[Any], str]] = {}
    wanted_paths = [(i.path, i.pos) for i in sel.items if i.kind in ("field", "agg") and i.path]
    for written, pos in [*wanted_paths, *sel.group_by, *extra]:
        if "." not in written or written.lower() in paths:
            continue
        canonical, hops, ftype = _resolve_path(store, sobject, written, sel.source, pos=pos)
        paths[written.lower()] = (canonical, hops, ftype)
        if hops:
            schema[canonical] = ftype
    return _Plan(obj.name, paths, schema)


def _flatten(store: RelHost, plan: _Plan, row: Mapping[str, Any]) -> dict[str, Any]:
    flat = dict(row)
    for canonical, hops, _ in plan.paths.values():
        if not hops:
            continue
        chain = _walk(store, row, hops)
        field_name = canonical.rsplit(".", 1)[1]
        flat[canonical] = (_name_value(chain[-1][0], chain[-1][1], field_name)
                           if len(chain) == len(hops) else None)
    return flat


def _dotted_refs(text: str) -> list[tuple[str, int]]:
    """Dotted identifiers in a WHERE/ORDER BY text (parent paths to flatten)."""
    try:
        tokens = soql.tokenize(text)
    except SoqlError:
        return []
    return [(t.value, t.pos) for t in tokens if t.kind == soql.IDENT and "." in t.value]


def parse(text: str) -> _Select:
    """Read the SELECT list (relationship paths, subqueries, aggregates) and split the rest."""
    sel, _ = _parse_select(text, soql.tokenize(text), 0, False)
    return sel


def sobject_of(sel: _Select, store: RelHost) -> str:
    sobject = store.sobject_name(sel.sobject)
    if sobject is None:
        raise SoqlError("INVALID_TYPE", f"sObject type '{sel.sobject}' is not supported. If you "
                        "are attempting to use a custom object, be sure to append the '__c' after "
                        "the entity name. Please reference your WSDL or the describe call for the "
                        "appropriate names.")
    return sobject


def run(sel: _Select, store: RelHost, version: str, include_deleted: bool = False) -> RelResult:
    """Run a record query with parent paths and/or subqueries (not an aggregate one)."""
    sobject = sobject_of(sel, store)
    plan = _plan(store, sobject, sel, _dotted_refs(sel.rest))
    for item in sel.items:     # a bad subquery fails even when no parent row would reach it
        if item.kind == "sub":
            assert item.sub is not None
            _sub_plan(store, sobject, item.sub)
    if sel.count_only:
        base = soql.parse(f"SELECT COUNT() FROM {sel.sobject}{sel.rest}")
        _, total = _select_rows(store, plan, sel, base, include_deleted=include_deleted, records=None)
        return RelResult([], total, count_only=True)
    base = soql.parse(f"SELECT Id FROM {sel.sobject}{sel.rest}")
    rows, total = _select_rows(store, plan, sel, base, include_deleted=include_deleted,
                               records=None)
    out = [_shape(store, plan, sel, r, version=version) for r in rows]
    return RelResult(out, total, fields=tuple(i.path for i in sel.items if i.kind == "field"))


def _select_rows(store: RelHost, plan: _Plan, sel: _Select, base: soql.Query,
                 *, include_deleted: bool, records: list[Any] | None) -> tuple[list[dict], int]:
    """Filter, order and window rows with ``soql.execute``; rows keep every flattened key."""
    named = [("Id", 0)] + [(plan.paths[i.path.lower()][0] if i.path.lower() in plan.paths
                             else i.path, i.pos) for i in sel.items if i.kind == "field"]
    seen: set[str] = set()
    unique = []
    for name, pos in named:
        if name.lower() not in seen:
            seen.add(name.lower())
            unique.append((name, pos))
    query = dataclasses.replace(base, fields=tuple(n for n, _ in unique),
                                field_positions=tuple(p for _, p in unique), source=sel.source)
    if base.count:
        query = dataclasses.replace(query, fields=(), field_positions=())
    if records is None:
        constraints = soql.equality_constraints(query, plan.schema)
        records = store.candidates(plan.sobject, constraints, include_deleted)
    flat = [_flatten(store, plan, r) for r in records] if plan.paths else records
    rows, total = soql.execute(query, flat, plan.schema)
    if base.count:
        return [], total
    by_id = {r["Id"]: r for r in flat}
    return [dict(by_id[r["Id"]], **r) for r in rows], total


def _shape(store: RelHost, plan: _Plan, sel: _Select, row: Mapping[str, Any],
           *, version: str) -> dict[str, Any]:
    """One result record: attributes, then the SELECT items in order, parents nested."""
    def url(kind: str, rid: str) -> str:
        return f"/services/data/v{version}/sobjects/{kind}/{rid}"

    out: dict[str, Any] = {"attributes": {"type": plan.sobject, "url": url(plan.sobject, row["Id"])}}
    for item in sel.items:
        if item.kind == "sub":
            assert item.sub is not None
            out[_child_key(store, plan.sobject, item.sub)] = _children(store, plan.sobject, item.sub,
                                                                        row["Id"], version=version)
            continue
        path = plan.paths.get(item.path.lower())
        if path is None or not path[1]:
            name = path[0] if path else store.schema(plan.sobject).field(item.path).name
            out[name] = soql._norm_boolean(row.get(name)) if plan.schema.get(name) == "boolean" else row.get(name)
            continue
        canonical, hops, ftype = path
        names = canonical.split(".")
        chain = _walk(store, row, hops)
        node = out
        for depth, ref in enumerate(hops):
            rel = names[depth]
            if depth >= len(chain):
                node.setdefault(rel, None)
                break
            kind, parent = chain[depth]
            poly = len([t for t in ref.reference_to if store.sobject_name(t)]) > 1
            existing = node.get(rel)
            if not isinstance(existing, dict):
                existing = {"attributes": {"type": "Name" if poly else kind, "url": url(kind, parent["Id"])}}
                node[rel] = existing
            node = existing
        else:
            value = _name_value(chain[-1][0], chain[-1][1], names[-1])
            node[names[-1]] = soql._norm_boolean(value) if ftype == "boolean" else value
    return out


def _child_key(store: RelHost, parent: str, sub: _Select) -> str:
    for (p, rel), _ in CHILDREN.items():
        if p == parent and rel.lower() == sub.sobject.lower():
            return rel
    raise SoqlError("INVALID_TYPE", f"Didn't understand relationship '{sub.sobject}' in FROM part "
                    "of query call. If you are attempting to use a custom relationship, be sure to "
                    "append the '__r' after the custom relationship name. Please reference your "
                    "WSDL or the describe call for the appropriate names.")


def _children(store: RelHost, parent: str, sub: _Select, parent_id: str,
              *, version: str) -> dict[str, Any] | None:
    """A subquery's result for one parent, or None when the parent has no such children."""
    plan, base, lookup = _sub_plan(store, parent, sub)
    kids = store.tables[plan.sobject].lookup(lookup, parent_id)
    rows, _ = _select_rows(store, plan, sub, base, include_deleted=False, records=kids)
    if not rows:
        return None
    return {"totalSize": len(rows), "done": True,
            "records": [_shape(store, plan, sub, r, version=version) for r in rows]}


def _sub_plan(store: RelHost, parent: str, sub: _Select) -> tuple[_Plan, soql.Query, str]:
    """A subquery's plan, parsed query and lookup field, made once per query."""
    if "plan" not in sub.cache:
        rel = _child_key(store, parent, sub)
        child, lookup = CHILDREN[(parent, rel)]
        if any(i.kind != "field" for i in sub.items):
            raise _malformed(sub.source, 0, "a subquery selects fields only")
        plan = _plan(store, child, sub, _dotted_refs(sub.rest))
        base = soql.parse(f"SELECT Id FROM {child}{sub.rest}")
        sub.cache["plan"] = (plan, base, lookup)
    return sub.cache["plan"]
