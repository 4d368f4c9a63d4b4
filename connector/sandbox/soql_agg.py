"""Aggregate SOQL: ``SELECT X, COUNT(Id) FROM Y [WHERE ...] GROUP BY X [ORDER BY ...]``.

SOQL and SOSL Reference, "Aggregate Functions" and "GROUP BY": COUNT(field), COUNT_DISTINCT,
SUM, AVG, MIN, MAX; a selected field must be grouped or aggregated; without GROUP BY an
aggregate query returns one row. REST returns the rows as records whose ``attributes`` hold
only ``"type": "AggregateResult"``; an aggregate without an alias is named ``expr0``,
``expr1``, ... in SELECT order, and a grouped field keeps its field name (the last part of a
relationship path: ``GROUP BY Campaign.Name`` gives ``Name``), or its alias. Groups on text
are case-insensitive, like SOQL's comparisons. HAVING is refused by the parser (not emulated).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from . import soql
from .soql_rel import RelHost, RelResult, _dotted_refs, _plan, _Select, _select_rows, sobject_of

__all__ = ["run_aggregate"]

_NUMERIC = soql.NUMBER_TYPES


def _resolve(store: RelHost, plan: Any, sel: _Select, path: str, *, pos: int) -> tuple[str, str]:
    """(canonical key in the flattened row, field type) for a grouped or aggregated path."""
    hit = plan.paths.get(path.lower())
    if hit is not None:
        return hit[0], hit[2]
    fd = store.schema(plan.sobject).field(path)
    if fd is None:
        raise soql._invalid_field(sel.source, pos, f"No such column '{path}' on entity "
                                  f"'{plan.sobject}'. If you are attempting to use a custom field, "
                                  "be sure to append the '__c' after the custom field name. Please "
                                  "reference your WSDL or the describe call for the appropriate names.")
    return fd.name, ("string" if fd.type == "combobox" else fd.type)


def _aggregate(func: str, values: list[Any], ftype: str) -> Any:
    present = [v for v in values if v is not None and v != ""]
    if func == "COUNT":
        return len(present)
    if func == "COUNT_DISTINCT":
        return len({soql._normalizer(ftype)(v) for v in present})
    if not present:
        return None
    if func == "SUM":
        total = sum(present)
        return int(total) if ftype == "int" else total
    if func == "AVG":
        return sum(present) / len(present)
    norm = soql._normalizer(ftype)
    pick = min if func == "MIN" else max
    return pick(present, key=norm)


def _order(sel: _Select, keys: Mapping[str, str]) -> tuple[list[tuple[str, bool, bool]], int | None, int | None]:
    """Read ``ORDER BY item [ASC|DESC] [NULLS FIRST|LAST], ... [LIMIT n] [OFFSET n]``.

    An item is a grouped field or an aggregate as written (``COUNT(Id)``); ``keys`` maps its
    normalised text to the output key it sorts on.
    """
    text = sel.order_text
    if not text:
        return [], None, None
    toks = soql.tokenize(text)
    i = 0
    order: list[tuple[str, bool, bool]] = []

    def word(k: int) -> str:
        return toks[k].value.upper() if toks[k].kind == soql.IDENT else ""

    if word(i) == "ORDER":
        if word(i + 1) != "BY":
            raise soql._malformed(text, toks[i + 1].pos, "unexpected token")
        i += 2
        while True:
            if toks[i].kind != soql.IDENT:
                raise soql._malformed(text, toks[i].pos, f"unexpected token: '{toks[i].value}'")
            item = toks[i].value
            i += 1
            if toks[i].kind == soql.LPAREN:
                arg = toks[i + 1].value if toks[i + 1].kind == soql.IDENT else ""
                i += 2 if not arg else 3
                item = f"{item}({arg})"
            key = keys.get(item.lower().replace(" ", ""))
            if key is None:
                raise soql._malformed(text, toks[i - 1].pos, f"Ordered field must be grouped or "
                                      f"aggregated: {item}")
            descending = False
            if word(i) in ("ASC", "DESC"):
                descending = word(i) == "DESC"
                i += 1
            nulls_first = not descending
            if word(i) == "NULLS":
                nulls_first = word(i + 1) == "FIRST"
                i += 2
            order.append((key, descending, nulls_first))
            if toks[i].kind != soql.COMMA:
                break
            i += 1
    limit = offset = None
    for clause in ("LIMIT", "OFFSET"):
        if word(i) == clause:
            if toks[i + 1].kind != soql.NUMBER:
                raise soql._malformed(text, toks[i + 1].pos, "unexpected token")
            value = int(toks[i + 1].value)
            limit, offset = (value, offset) if clause == "LIMIT" else (limit, value)
            i += 2
    if toks[i].kind != soql.EOF:
        raise soql._malformed(text, toks[i].pos, f"unexpected token: '{toks[i].value}'")
    return order, limit, offset


def _sort(rows: list[dict[str, Any]], order: Iterable[tuple[str, bool, bool]],
          types: Mapping[str, str]) -> list[dict[str, Any]]:
    for key, descending, nulls_first in reversed(list(order)):
        norm = soql._normalizer(types.get(key, "double"))
        nulls = [r for r in rows if norm(r.get(key)) is None]
        keyed = sorted((r for r in rows if norm(r.get(key)) is not None),
                       key=lambda r: norm(r.get(key)), reverse=descending)
        rows = nulls + keyed if nulls_first else keyed + nulls
    return rows


def run_aggregate(sel: _Select, store: RelHost, include_deleted: bool = False) -> RelResult:
    """Group the matching records and compute each aggregate per group."""
    sobject = sobject_of(sel, store)
    if any(i.kind == "sub" for i in sel.items):
        raise soql._malformed(sel.source, 0, "a subquery cannot be used in an aggregate query")
    if any(i.kind == "agg" and i.func == "COUNT" and not i.path for i in sel.items):
        raise soql._malformed(sel.source, 0, "COUNT() cannot be combined with other fields or "
                              "with GROUP BY; use COUNT(Id)")
    plan = _plan(store, sobject, sel, _dotted_refs(sel.rest))
    grouped = [(*_resolve(store, plan, sel, path, pos=pos), path) for path, pos in sel.group_by]
    grouped_keys = {canonical.lower() for canonical, _, _ in grouped}
    columns: list[tuple[str, str, str, str]] = []     # (output key, kind, canonical, type/func)
    order_keys: dict[str, str] = {}
    expr = 0
    for item in sel.items:
        canonical, ftype = _resolve(store, plan, sel, item.path or "Id", pos=item.pos)
        if item.kind == "field":
            if canonical.lower() not in grouped_keys:
                raise soql._malformed(sel.source, item.pos, "Field must be grouped or aggregated: "
                                      f"{item.path}")
            key = item.alias or canonical.rsplit(".", 1)[-1]
            columns.append((key, "field", canonical, ftype))
            order_keys[item.path.lower()] = key
            order_keys[canonical.lower()] = key
            continue
        if item.func in ("SUM", "AVG") and ftype not in _NUMERIC:
            raise soql._invalid_field(sel.source, item.pos, f"field {item.path} does not support "
                                      f"aggregate operator {item.func}")
        if item.alias:
            key = item.alias
        else:
            key = f"expr{expr}"
            expr += 1
        columns.append((key, item.func, canonical, ftype))
        order_keys[f"{item.func}({item.path})".lower()] = key
    for canonical, _, path in grouped:        # ORDER BY a grouped field not selected
        order_keys.setdefault(path.lower(), canonical)
    order, limit, offset = _order(sel, order_keys)
    base = soql.parse(f"SELECT Id FROM {sel.sobject}{sel.rest}")
    rows, _ = _select_rows(store, plan, sel.__class__(sel.source, [], sel.sobject, sel.rest),
                           base, include_deleted=include_deleted, records=None)
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        group = tuple(soql._normalizer(ftype)(row.get(c)) for c, ftype, _ in grouped)
        groups.setdefault(group, []).append(row)
    if not grouped and not groups:
        groups[()] = []                           # one row even when nothing matched
    out: list[dict[str, Any]] = []
    types: dict[str, str] = {}
    for members in groups.values():
        record: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
        for key, kind, canonical, ftype in columns:
            if kind == "field":
                record[key] = members[0].get(canonical) if members else None
                types[key] = ftype
            else:
                record[key] = _aggregate(kind, [m.get(canonical) for m in members], ftype)
                types[key] = "double" if kind in ("COUNT", "COUNT_DISTINCT", "AVG") else ftype
        for canonical, ftype, _ in grouped:       # hidden sort keys for unselected groups
            if canonical not in record:
                record[canonical] = members[0].get(canonical) if members else None
                types[canonical] = ftype
        out.append(record)
    out = _sort(out, order, types)
    start = offset or 0
    out = out[start:None if limit is None else start + limit]
    visible = {key for key, *_ in columns} | {"attributes"}
    out = [{k: v for k, v in r.items() if k in visible} for r in out]
    return RelResult(out, len(out), aggregate=True)
