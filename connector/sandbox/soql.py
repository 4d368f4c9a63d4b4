"""The SOQL subset the sandbox understands: the evaluator, and the entry points to all of it.

Why a real parser: the sandbox exists so that leadsync's own query-building code (quoting via
``simple_salesforce.format_soql``, IN-lists, LIKE escapes, date literals) is exercised against
something that reads queries the way Salesforce does. Matching whole queries with regexes would
accept malformed SOQL that production rejects, and would silently mis-read values that contain
SOQL fragments (``' OR Id != null --``). So the text goes through a tokenizer that understands
SOQL string escapes exactly, a grammar that rejects what Salesforce rejects, and an evaluator
with Salesforce's semantics (case-insensitive strings, ``!=`` matching nulls, instants compared
across UTC offsets, ``ASC NULLS FIRST`` / ``DESC NULLS LAST`` ordering).

Supported::

    SELECT field[, field...] | COUNT()
    FROM object
    [WHERE condition]                 -- = != <> < > <= >= IN, NOT IN, LIKE, AND, OR, NOT, ( )
    [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST][, ...]]
    [LIMIT n] [OFFSET n]

Like Salesforce, mixing AND and OR at one level without parentheses is a MALFORMED_QUERY
("Parentheses are required whenever you mix the operators"); NOT binds to the single
expression that follows it.

Not supported (rejected, never guessed at): relationship paths (``Owner.Name``), aggregate
functions other than ``COUNT()``, GROUP BY, sub-queries, INCLUDES/EXCLUDES, bind variables and
date literals other than TODAY, YESTERDAY, TOMORROW, LAST_N_DAYS:n and NEXT_N_DAYS:n.

The pieces live in their own modules: ``soql_lex`` (errors with Salesforce's carets, the
tokenizer), ``soql_parse`` (the query tree and the recursive-descent parser), ``soql_values``
(per-type value normalisation, shared with the store's indexes through ``index_key``); this
module compiles a WHERE tree and runs a query over records. Everything other modules read as
``soql.X`` is re-exported here.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Callable, Iterable, Mapping

from .soql_lex import _EPOCH_ORDINAL, _US_PER_DAY, SoqlError, _invalid_field
from .soql_parse import (_ANY, _ONE, And, Comparison, FieldRef, InList, Like, Literal, Node, Not,
                         Or, OrderItem, Query, parse)
from .soql_values import (NUMBER_TYPES, _ID_TYPES, Normalizer, _norm_boolean, _norm_id,
                          _norm_string, _normalizer, index_key)

# What other modules read as ``soql.X`` (soql_rel, soql_agg, query_front, tests), re-exported.
from .soql_lex import COLON as COLON, COMMA as COMMA, DATE as DATE
from .soql_lex import DATETIME as DATETIME, EOF as EOF, IDENT as IDENT
from .soql_lex import LPAREN as LPAREN, NUMBER as NUMBER, OP as OP
from .soql_lex import RPAREN as RPAREN, STRING as STRING, Token as Token
from .soql_lex import _malformed as _malformed, tokenize as tokenize
from .soql_values import STRING_TYPES as STRING_TYPES

__all__ = [
    "SoqlError",
    "Query",
    "FieldRef",
    "Literal",
    "Comparison",
    "InList",
    "Like",
    "And",
    "Or",
    "Not",
    "OrderItem",
    "parse",
    "execute",
    "equality_constraints",
    "index_key",
]


def _utcnow() -> datetime:
    """The clock date literals are resolved against (a seam for tests)."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True, slots=True)
class _Range:
    """A half-open interval [lo, hi) that a date literal such as TODAY stands for."""

    lo: int
    hi: int


_SF_TYPE_NAMES = {"int": "integer", "datetime": "dateTime"}
_UNQUOTED_TYPES = NUMBER_TYPES | {"boolean", "date", "datetime"}


# ---------------------------------------------------------------------------------------------
# Evaluator
# ---------------------------------------------------------------------------------------------

Predicate = Callable[[Mapping[str, Any]], bool]


class _Compiler:
    """Turns a WHERE tree into nested closures, once per execute().

    Everything that does not depend on the record -- field resolution, literal type checks,
    lower-casing, IN-sets, LIKE regexes, date-literal ranges -- happens here, so the per-record
    cost is a dict lookup, one normalisation and a comparison.
    """

    def __init__(self, query: Query, schema: Mapping[str, str]) -> None:
        self.query = query
        self.source = query.source or ""
        self.schema = schema
        self.by_lower = {name.lower(): name for name in schema}
        self._today: date | None = None

    # -- fields -------------------------------------------------------------------------

    def resolve(self, name: str, pos: int) -> tuple[str, str]:
        """Map a written field name to (canonical name, type) or raise INVALID_FIELD."""
        written = name
        if "." in name:
            flat = self.by_lower.get(name.lower())   # a parent path soql_rel flattened in
            if flat is not None:
                return flat, self.schema[flat].lower()
            prefix, rest = name.split(".", 1)
            if prefix.lower() == self.query.sobject.lower() and "." not in rest:
                name = rest  # "Lead.Email" in a query FROM Lead is just Email.
            else:
                raise _invalid_field(
                    self.source, pos,
                    f"Didn't understand relationship '{prefix}' in field path. If you are "
                    "attempting to use a custom relationship, be sure to append the '__r' "
                    "after the custom relationship name. Please reference your WSDL or the "
                    "describe call for the appropriate names.")
        canonical = self.by_lower.get(name.lower())
        if canonical is None:
            raise _invalid_field(
                self.source, pos,
                f"No such column '{written}' on entity '{self.query.sobject}'. If you are "
                "attempting to use a custom field, be sure to append the '__c' after the "
                "custom field name. Please reference your WSDL or the describe call for the "
                "appropriate names.")
        return canonical, self.schema[canonical].lower()

    # -- literals -----------------------------------------------------------------------

    def today(self) -> date:
        if self._today is None:
            self._today = _utcnow().date()
        return self._today

    def coerce(self, lit: Literal, canonical: str, ftype: str) -> Any:
        """Convert a literal into the field's normalised domain, checking its type.

        Returns None for null, a _Range for a date literal, otherwise a value comparable with
        the field normaliser's output. A type mismatch is INVALID_FIELD with Salesforce's
        wording, because Salesforce refuses e.g. ``CreatedDate = '2024-01-01'``.
        """
        kind = lit.kind
        if kind == "null":
            return None
        if ftype == "boolean":
            if kind == "boolean":
                return lit.value
        elif ftype in NUMBER_TYPES:
            if kind == "number":
                return lit.value
        elif ftype == "datetime":
            if kind == "datetime":
                return lit.value
            if kind == "date_literal":
                lo, hi = self.day_range(lit.value)
                return _Range((lo - _EPOCH_ORDINAL) * _US_PER_DAY,
                              (hi - _EPOCH_ORDINAL) * _US_PER_DAY)
        elif ftype == "date":
            if kind == "date":
                return lit.value
            if kind == "date_literal":
                return _Range(*self.day_range(lit.value))
        else:  # string-like (and any type this module does not know, treated as text)
            if kind == "string":
                return _norm_id(lit.value) if ftype in _ID_TYPES else _norm_string(lit.value)
        unquoted = ftype in _UNQUOTED_TYPES
        quoted = "should not be enclosed in quotes" if unquoted else "should be enclosed in quotes"
        type_name = _SF_TYPE_NAMES.get(ftype, ftype)
        raise _invalid_field(self.source, lit.pos,
                             f"value of filter criterion for field '{canonical}' must be of "
                             f"type {type_name} and {quoted}")

    def day_range(self, spec: tuple[str, int]) -> tuple[int, int]:
        """[first day, day after last) as ordinals, in UTC (the sandbox user's time zone)."""
        word, n = spec
        today = self.today().toordinal()
        if word == "TODAY":
            return today, today + 1
        if word == "YESTERDAY":
            return today - 1, today
        if word == "TOMORROW":
            return today + 1, today + 2
        if word == "LAST_N_DAYS":  # today and the n days before it
            return today - n, today + 1
        if word == "NEXT_N_DAYS":  # the n days after today
            return today + 1, today + 1 + n
        raise AssertionError(word)

    # -- conditions ---------------------------------------------------------------------

    def compile(self, node: Node) -> Predicate:
        if isinstance(node, Comparison):
            return self.comparison(node)
        if isinstance(node, InList):
            return self.in_list(node)
        if isinstance(node, Like):
            return self.like(node)
        if isinstance(node, And):
            preds = tuple(self.compile(item) for item in node.items)
            if len(preds) == 2:
                a, b = preds
                return lambda r: a(r) and b(r)
            return lambda r: all(p(r) for p in preds)
        if isinstance(node, Or):
            preds = tuple(self.compile(item) for item in node.items)
            if len(preds) == 2:
                a, b = preds
                return lambda r: a(r) or b(r)
            return lambda r: any(p(r) for p in preds)
        if isinstance(node, Not):
            inner = self.compile(node.item)
            return lambda r: not inner(r)
        raise TypeError(f"unknown condition node {node!r}")

    def comparison(self, node: Comparison) -> Predicate:
        canonical, ftype = self.resolve(node.field.name, node.field.pos)
        norm = _normalizer(ftype)
        value = self.coerce(node.value, canonical, ftype)
        op = node.op
        if value is None:
            # Only = and != are meaningful against null; an ordering against null is false.
            if op == "=":
                return lambda r: norm(r.get(canonical)) is None
            if op == "!=":
                return lambda r: norm(r.get(canonical)) is not None
            return lambda r: False
        if isinstance(value, _Range):
            lo, hi = value.lo, value.hi
            inside: Callable[[Any], bool] = {
                "=": lambda v: lo <= v < hi,
                "!=": lambda v: not lo <= v < hi,
                "<": lambda v: v < lo,
                "<=": lambda v: v < hi,
                ">": lambda v: v >= hi,
                ">=": lambda v: v >= lo,
            }[op]
        else:
            if op == "=":
                # norm() of a null is None, which never equals a non-null literal.
                return lambda r: norm(r.get(canonical)) == value
            cmp = _COMPARATORS[op]
            inside = lambda v: cmp(v, value)  # noqa: E731
        if op == "!=":
            # Salesforce's != includes records where the field is null.
            def ne(r: Mapping[str, Any]) -> bool:
                v = norm(r.get(canonical))
                return v is None or inside(v)
            return ne

        def test(r: Mapping[str, Any]) -> bool:
            v = norm(r.get(canonical))
            return v is not None and inside(v)
        return test

    def in_list(self, node: InList) -> Predicate:
        canonical, ftype = self.resolve(node.field.name, node.field.pos)
        norm = _normalizer(ftype)
        has_null = False
        points: set[Any] = set()
        ranges: list[_Range] = []
        for lit in node.values:
            value = self.coerce(lit, canonical, ftype)
            if value is None:
                has_null = True
            elif isinstance(value, _Range):
                ranges.append(value)
            else:
                points.add(value)
        frozen = frozenset(points)
        negated = node.negated
        if not ranges:
            if negated:
                def not_in(r: Mapping[str, Any]) -> bool:
                    v = norm(r.get(canonical))
                    return (not has_null) if v is None else v not in frozen
                return not_in

            def is_in(r: Mapping[str, Any]) -> bool:
                v = norm(r.get(canonical))
                return has_null if v is None else v in frozen
            return is_in

        spans = tuple((rg.lo, rg.hi) for rg in ranges)

        def member(r: Mapping[str, Any]) -> bool:
            v = norm(r.get(canonical))
            if v is None:
                found = has_null
            else:
                found = v in frozen or any(lo <= v < hi for lo, hi in spans)
            return found != negated
        return member

    def like(self, node: Like) -> Predicate:
        canonical, ftype = self.resolve(node.field.name, node.field.pos)
        if ftype in _UNQUOTED_TYPES:
            raise _invalid_field(self.source, node.field.pos,
                                 f"invalid operator on field '{canonical}' of type "
                                 f"{_SF_TYPE_NAMES.get(ftype, ftype)}: LIKE")
        norm = _norm_string
        parts = tuple(p.lower() if isinstance(p, str) else p for p in node.pattern)
        literal_parts = [p for p in parts if isinstance(p, str)]
        # Fast paths for the shapes code actually writes: 'x', 'x%', '%x', '%x%'.
        if _ONE not in parts and len(literal_parts) <= 1:
            text = literal_parts[0] if literal_parts else ""
            lead = bool(parts) and parts[0] is _ANY
            trail = bool(parts) and parts[-1] is _ANY and (len(parts) > 1 or not text)
            if not parts:
                return lambda r: False  # LIKE '' matches only '', which Salesforce stores as null
            if lead and trail:
                return lambda r: (v := norm(r.get(canonical))) is not None and text in v
            if trail:
                return lambda r: (v := norm(r.get(canonical))) is not None and v.startswith(text)
            if lead:
                return lambda r: (v := norm(r.get(canonical))) is not None and v.endswith(text)
            return lambda r: norm(r.get(canonical)) == text
        regex = re.compile("".join(
            re.escape(p) if isinstance(p, str) else ".*" if p is _ANY else "." for p in parts),
            re.DOTALL)
        fullmatch = regex.fullmatch
        return lambda r: (v := norm(r.get(canonical))) is not None and fullmatch(v) is not None


_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt,
    "<=": operator.le, ">=": operator.ge,
}


def _sort(rows: list[Mapping[str, Any]], keys: list[tuple[str, Normalizer, OrderItem]]
          ) -> list[Mapping[str, Any]]:
    """Stable multi-key sort: one stable pass per key, least significant first.

    Nulls are split off per pass rather than given a sentinel key, because a sentinel that
    sorts below every str, int and bool does not exist in Python.
    """
    for canonical, norm, item in reversed(keys):
        nulls: list[Mapping[str, Any]] = []
        keyed: list[tuple[Any, Mapping[str, Any]]] = []
        for r in rows:
            k = norm(r.get(canonical))
            if k is None:
                nulls.append(r)
            else:
                keyed.append((k, r))
        keyed.sort(key=operator.itemgetter(0), reverse=item.descending)  # stays stable
        ordered = [r for _, r in keyed]
        rows = nulls + ordered if item.nulls_first else ordered + nulls
    return rows


def execute(query: Query, records: Iterable[Mapping[str, Any]],
            schema: Mapping[str, str]) -> tuple[list[dict], int]:
    """Run ``query`` over ``records`` (dicts keyed by canonical field names).

    Returns ``(rows, total)``: the selected fields of the matching records after ORDER BY,
    OFFSET and LIMIT, keyed by canonical names in SELECT order, and their number. For
    ``COUNT()`` rows is empty and total is the number matching, with OFFSET/LIMIT applied.
    Every field named anywhere is validated first, so an unknown field fails even when no
    record would have reached it.
    """
    compiler = _Compiler(query, schema)
    positions = query.field_positions or (0,) * len(query.fields)
    selected: list[tuple[str, bool]] = []
    for name, pos in zip(query.fields, positions):
        canonical, ftype = compiler.resolve(name, pos)
        selected.append((canonical, ftype == "boolean"))
    predicate = compiler.compile(query.where) if query.where is not None else None
    sort_keys = []
    for item in query.order_by:
        canonical, ftype = compiler.resolve(item.field.name, item.field.pos)
        sort_keys.append((canonical, _normalizer(ftype), item))

    matched: list[Mapping[str, Any]] = (
        [r for r in records if predicate(r)] if predicate is not None else list(records))
    if sort_keys:
        matched = _sort(matched, sort_keys)
    start = query.offset or 0
    stop = None if query.limit is None else start + query.limit
    window = matched[start:stop]
    if query.count:
        return [], len(window)
    rows = [
        {canonical: (_norm_boolean(r.get(canonical)) if is_bool else r.get(canonical))
         for canonical, is_bool in selected}
        for r in window
    ]
    return rows, len(rows)


# ---------------------------------------------------------------------------------------------
# Index support
# ---------------------------------------------------------------------------------------------


def equality_constraints(query: Query, schema: Mapping[str, str]) -> dict[str, set[Any]]:
    """Values that matching records must have, for the caller's index lookups.

    Only sound facts are reported: when the WHERE is a conjunction (ANDs nested in ANDs),
    each ``F = literal`` / ``F IN (literals)`` term among its members says F's normalised
    value (see index_key) is in a known set; repeated terms on one field intersect. Terms
    involving null, date literals, booleans, dates or datetimes are left out -- dropping a
    conjunct only widens the filter -- and anything else (OR, NOT at the top) yields {}.
    Problems such as unknown fields also yield {}: execute() will report them.
    """
    if query.where is None:
        return {}
    compiler = _Compiler(query, schema)
    out: dict[str, set[Any]] = {}
    stack: list[Node] = [query.where]
    literals: tuple[Literal, ...]
    try:
        while stack:
            node = stack.pop()
            if isinstance(node, And):
                stack.extend(node.items)
                continue
            if isinstance(node, Comparison) and node.op == "=":
                ref, literals = node.field, (node.value,)
            elif isinstance(node, InList) and not node.negated:
                ref, literals = node.field, node.values
            else:
                continue
            canonical, ftype = compiler.resolve(ref.name, ref.pos)
            if ftype in ("boolean", "date", "datetime"):
                continue
            values = {compiler.coerce(lit, canonical, ftype) for lit in literals}
            if None in values or any(isinstance(v, _Range) for v in values):
                continue
            out[canonical] = out[canonical] & values if canonical in out else values
    except SoqlError:
        return {}
    return out
