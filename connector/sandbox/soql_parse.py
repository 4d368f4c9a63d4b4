"""The SOQL query tree and its recursive-descent parser.

Split out of ``soql``: the grammar (SELECT ... FROM ... WHERE ... ORDER BY ... LIMIT/OFFSET)
rejects what Salesforce rejects, with Salesforce's messages, and produces an immutable
``Query`` that the evaluator in ``soql`` runs; parses are cached because a sync issues the
same query shapes over and over.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Union

from .soql_lex import (COLON, COMMA, DATE, DATETIME, EOF, IDENT, LPAREN, NUMBER, OP, RPAREN, STRING,
                       SoqlError, Token, _malformed, tokenize)


# ---------------------------------------------------------------------------------------------
# AST
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A field name as written, with its offset for INVALID_FIELD carets."""

    name: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Literal:
    """A value in a condition.

    ``kind`` is one of ``string`` (value: decoded str), ``number`` (int or float),
    ``boolean``, ``null``, ``date`` (proleptic ordinal), ``datetime`` (epoch microseconds) or
    ``date_literal`` (value: ``(NAME, n)``, resolved to a range when the query runs, so a
    parsed query may be cached and reused across midnight).
    """

    kind: str
    value: Any
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Comparison:
    """``field op value`` with op one of ``= != < > <= >=`` (``<>`` is normalised to ``!=``)."""

    field: FieldRef
    op: str
    value: Literal


@dataclass(frozen=True, slots=True)
class InList:
    """``field [NOT] IN (v1, v2, ...)``."""

    field: FieldRef
    values: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Like:
    """``field LIKE 'pattern'``.

    ``pattern`` holds literal text chunks and the wildcard markers ``_ANY`` / ``_ONE``; it is
    decoded from the raw literal so that escaped ``\\%``/``\\_`` stay literal.
    """

    field: FieldRef
    pattern: tuple[str | _Wildcard, ...]
    # ``dataclasses.field``: the ``field`` attribute above shadows the name for type checkers.
    pos: int = dataclasses.field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    items: tuple["Node", ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple["Node", ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: "Node"


Node = Union[Comparison, InList, Like, And, Or, Not]


@dataclass(frozen=True, slots=True)
class OrderItem:
    """One ORDER BY key; ``nulls_first`` already carries Salesforce's default for the direction."""

    field: FieldRef
    descending: bool = False
    nulls_first: bool = True


@dataclass(frozen=True)
class Query:
    """A parsed query. Immutable and hashable, so parses can be cached and shared by threads.

    ``source`` and ``field_positions`` exist only so that execute() can point a caret at an
    unknown field, as Salesforce's INVALID_FIELD message does.
    """

    sobject: str
    fields: tuple[str, ...]
    count: bool
    where: Node | None
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None
    source: str = field(default="", repr=False, compare=False)
    field_positions: tuple[int, ...] = field(default=(), repr=False, compare=False)


class _Wildcard:
    """A LIKE wildcard inside Like.pattern; a distinct object so no text can be mistaken for it."""

    __slots__ = ("symbol",)

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol

    def __repr__(self) -> str:
        return self.symbol


_ANY = _Wildcard("%")
_ONE = _Wildcard("_")

# ---------------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------------

# Words that can never be a field or object name. Salesforce's reserved list, plus the
# clause keywords this grammar uses so that "SELECT FROM Lead" fails in the right place.
_RESERVED = frozenset({
    "AND", "ASC", "DESC", "EXCLUDES", "FIRST", "FROM", "GROUP", "HAVING", "IN", "INCLUDES",
    "LAST", "LIKE", "LIMIT", "NOT", "NULL", "NULLS", "OR", "SELECT", "WHERE", "WITH",
    "ORDER", "BY", "OFFSET", "TRUE", "FALSE",
})

_STRING_ESCAPES = {
    "\\": "\\", "'": "'", '"': '"', "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f",
}

_DATE_LITERALS = frozenset({"TODAY", "YESTERDAY", "TOMORROW"})
_DATE_N_LITERALS = frozenset({"LAST_N_DAYS", "NEXT_N_DAYS"})


class _Parser:
    """Recursive descent over the token list; one method per grammar rule."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.i = 0

    # -- token helpers ------------------------------------------------------------------

    def peek(self, k: int = 0) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != EOF:
            self.i += 1
        return tok

    def at_kw(self, *words: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind == IDENT and tok.value.upper() in words

    def unexpected(self, tok: Token) -> SoqlError:
        shown = "<EOF>" if tok.kind == EOF else f"'{self.source[tok.pos:tok.end]}'"
        return _malformed(self.source, tok.pos, f"unexpected token: {shown}")

    def expect_kw(self, word: str) -> Token:
        if not self.at_kw(word):
            raise self.unexpected(self.peek())
        return self.advance()

    def expect(self, kind: str) -> Token:
        tok = self.peek()
        if tok.kind != kind:
            if kind == RPAREN:
                shown = "<EOF>" if tok.kind == EOF else f"'{self.source[tok.pos:tok.end]}'"
                raise _malformed(self.source, tok.pos,
                                 f"expecting a right parentheses, found {shown}")
            raise self.unexpected(tok)
        return self.advance()

    def name(self) -> Token:
        tok = self.peek()
        if tok.kind != IDENT or tok.value.upper() in _RESERVED:
            raise self.unexpected(tok)
        return self.advance()

    def integer(self) -> int:
        tok = self.peek()
        if tok.kind != NUMBER or not isinstance(tok.value, int) or tok.value < 0 \
                or self.source[tok.pos] in "+-":
            raise self.unexpected(tok)
        self.advance()
        return tok.value

    # -- grammar --------------------------------------------------------------------------

    def query(self) -> Query:
        self.expect_kw("SELECT")
        count = False
        fields: list[str] = []
        positions: list[int] = []
        if self.at_kw("COUNT") and self.peek(1).kind == LPAREN:
            count_tok = self.advance()
            self.advance()
            if self.peek().kind != RPAREN:
                # COUNT(field) is an aggregate query with a different response shape
                # (AggregateResult rows); refuse rather than answer it wrongly.
                raise _malformed(self.source, count_tok.pos,
                                 "the sandbox supports only COUNT() among aggregate functions")
            self.advance()
            count = True
        else:
            seen: dict[str, str] = {}
            while True:
                tok = self.name()
                if self.peek().kind == LPAREN:
                    raise _malformed(self.source, tok.pos,
                                     f"the sandbox does not support the function '{tok.value}'")
                key = tok.value.lower()
                if key in seen:
                    raise _malformed(self.source, tok.pos,
                                     f"duplicate field selected: {tok.value}")
                seen[key] = tok.value
                fields.append(tok.value)
                positions.append(tok.pos)
                if self.peek().kind != COMMA:
                    break
                self.advance()
        self.expect_kw("FROM")
        # GROUP is reserved (GROUP BY), yet Group is also an sObject: FROM Group is valid.
        sobject = (self.advance() if self.at_kw("GROUP") else self.name()).value
        if "." in sobject:
            raise self.unexpected(self.tokens[self.i - 1])
        where = None
        if self.at_kw("WHERE"):
            self.advance()
            where = self.condition()
        order: list[OrderItem] = []
        if self.at_kw("ORDER"):
            self.advance()
            self.expect_kw("BY")
            order.append(self.order_item())
            while self.peek().kind == COMMA:
                self.advance()
                order.append(self.order_item())
        limit = offset = None
        if self.at_kw("LIMIT"):
            self.advance()
            limit = self.integer()
        if self.at_kw("OFFSET"):
            self.advance()
            offset = self.integer()
        if self.peek().kind != EOF:
            raise self.unexpected(self.peek())
        return Query(sobject=sobject, fields=tuple(fields), count=count, where=where,
                     order_by=tuple(order), limit=limit, offset=offset, source=self.source,
                     field_positions=tuple(positions))

    def order_item(self) -> OrderItem:
        tok = self.name()
        descending = False
        if self.at_kw("ASC", "DESC"):
            descending = self.advance().value.upper() == "DESC"
        nulls_first = not descending
        if self.at_kw("NULLS"):
            self.advance()
            if not self.at_kw("FIRST", "LAST"):
                raise self.unexpected(self.peek())
            nulls_first = self.advance().value.upper() == "FIRST"
        return OrderItem(FieldRef(tok.value, tok.pos), descending, nulls_first)

    def condition(self) -> Node:
        """``unary ((AND unary)* | (OR unary)*)``: one kind of connective per level.

        Salesforce demands parentheses when AND and OR are mixed, so ``a AND b OR c`` is
        rejected at the second connective instead of being given a precedence.
        """
        first = self.unary()
        if not self.at_kw("AND", "OR"):
            return first
        connective = self.peek().value.upper()
        items = [first]
        while self.at_kw(connective):
            self.advance()
            items.append(self.unary())
        if self.at_kw("AND", "OR"):
            raise self.unexpected(self.peek())
        return And(tuple(items)) if connective == "AND" else Or(tuple(items))

    def unary(self) -> Node:
        if self.at_kw("NOT") and not self.at_kw("IN", k=1):
            self.advance()
            return Not(self.unary())
        return self.primary()

    def primary(self) -> Node:
        if self.peek().kind == LPAREN:
            self.advance()
            node = self.condition()
            self.expect(RPAREN)
            return node
        tok = self.name()
        ref = FieldRef(tok.value, tok.pos)
        nxt = self.peek()
        if nxt.kind == OP:
            self.advance()
            return Comparison(ref, nxt.value, self.literal())
        if self.at_kw("IN"):
            self.advance()
            return InList(ref, self.literal_list(), False)
        if self.at_kw("NOT") and self.at_kw("IN", k=1):
            self.advance()
            self.advance()
            return InList(ref, self.literal_list(), True)
        if self.at_kw("LIKE"):
            self.advance()
            lit = self.peek()
            if lit.kind != STRING:
                raise self.unexpected(lit)
            self.advance()
            return Like(ref, self.like_pattern(lit), lit.pos)
        raise self.unexpected(nxt)

    def literal_list(self) -> tuple[Literal, ...]:
        self.expect(LPAREN)
        values = [self.literal()]
        while self.peek().kind == COMMA:
            self.advance()
            values.append(self.literal())
        self.expect(RPAREN)
        return tuple(values)

    def literal(self) -> Literal:
        tok = self.peek()
        if tok.kind == STRING:
            self.advance()
            return Literal("string", self.decode(tok), tok.pos)
        if tok.kind == NUMBER:
            self.advance()
            return Literal("number", tok.value, tok.pos)
        if tok.kind == DATE:
            self.advance()
            return Literal("date", tok.value, tok.pos)
        if tok.kind == DATETIME:
            self.advance()
            return Literal("datetime", tok.value, tok.pos)
        if tok.kind == IDENT:
            word = tok.value.upper()
            if word == "NULL":
                self.advance()
                return Literal("null", None, tok.pos)
            if word in ("TRUE", "FALSE"):
                self.advance()
                return Literal("boolean", word == "TRUE", tok.pos)
            if word in _DATE_LITERALS:
                self.advance()
                return Literal("date_literal", (word, 0), tok.pos)
            if word in _DATE_N_LITERALS:
                self.advance()
                self.expect(COLON)
                return Literal("date_literal", (word, self.integer()), tok.pos)
        raise self.unexpected(tok)

    # -- string literals ----------------------------------------------------------------

    def _escape_error(self, tok: Token, k: int) -> SoqlError:
        raw = tok.value
        return _malformed(self.source, tok.pos + 1 + k,
                          f"Invalid string literal '{raw}'. Illegal escape sequence "
                          f"'{raw[k:k + 2]}'")

    def decode(self, tok: Token) -> str:
        """Decode backslash escapes as ``format_soql`` writes them.

        ``\\%`` and ``\\_`` are LIKE escapes; outside LIKE they are kept verbatim (backslash
        included), which is how Salesforce's lexer leaves them for the LIKE stage.
        """
        raw: str = tok.value
        if "\\" not in raw:
            return raw
        out: list[str] = []
        k = 0
        while k < len(raw):
            ch = raw[k]
            if ch != "\\":
                out.append(ch)
                k += 1
                continue
            esc = raw[k + 1] if k + 1 < len(raw) else ""
            if esc in _STRING_ESCAPES:
                out.append(_STRING_ESCAPES[esc])
            elif esc in ("%", "_"):
                out.append("\\" + esc)
            else:
                raise self._escape_error(tok, k)
            k += 2
        return "".join(out)

    def like_pattern(self, tok: Token) -> tuple[str | _Wildcard, ...]:
        """Decode a LIKE literal into literal chunks and wildcard markers."""
        raw: str = tok.value
        parts: list[str | _Wildcard] = []
        buf: list[str] = []

        def flush() -> None:
            if buf:
                parts.append("".join(buf))
                buf.clear()

        k = 0
        while k < len(raw):
            ch = raw[k]
            if ch == "\\":
                esc = raw[k + 1] if k + 1 < len(raw) else ""
                if esc in _STRING_ESCAPES:
                    buf.append(_STRING_ESCAPES[esc])
                elif esc in ("%", "_"):
                    buf.append(esc)
                else:
                    raise self._escape_error(tok, k)
                k += 2
                continue
            if ch == "%":
                flush()
                if not parts or parts[-1] is not _ANY:
                    parts.append(_ANY)
            elif ch == "_":
                flush()
                parts.append(_ONE)
            else:
                buf.append(ch)
            k += 1
        flush()
        return tuple(parts)


@lru_cache(maxsize=512)
def _parse_cached(soql: str) -> Query:
    return _Parser(soql).query()


def parse(soql: str) -> Query:
    """Parse ``soql`` or raise ``SoqlError("MALFORMED_QUERY", ...)``.

    Results are cached: a sync issues the same query shapes over and over, and a Query is
    immutable, so sharing one between threads is safe. Errors are not cached.
    """
    if not isinstance(soql, str):
        raise SoqlError("MALFORMED_QUERY", "query must be a string")
    return _parse_cached(soql)
