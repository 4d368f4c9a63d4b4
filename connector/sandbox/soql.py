"""The SOQL subset the sandbox understands: tokenizer, recursive-descent parser, evaluator.

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
"""

from __future__ import annotations

import dataclasses
import operator
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping, Union

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


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class SoqlError(Exception):
    """A query Salesforce would refuse, carrying the errorCode the REST API would send.

    ``code`` is ``MALFORMED_QUERY`` (syntax), ``INVALID_FIELD`` (unknown field, or a value of
    the wrong type for a field) or ``INVALID_TYPE``; ``message`` mimics Salesforce's text so
    that code which surfaces or pattern-matches those messages sees realistic input.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _located(source: str, pos: int, text: str) -> str:
    """Format ``text`` the way Salesforce does: the offending row, a caret, Row/Column.

    Salesforce reports 1-based rows and columns; a caret under the offending column makes
    the message readable in logs.
    """
    pos = max(0, min(pos, len(source)))
    row = source.count("\n", 0, pos) + 1
    line_start = source.rfind("\n", 0, pos) + 1
    line_end = source.find("\n", pos)
    if line_end < 0:
        line_end = len(source)
    col = pos - line_start + 1
    line = source[line_start:line_end]
    return f"\n{line}\n{' ' * (col - 1)}^\nERROR at Row:{row}:Column:{col}\n{text}"


def _malformed(source: str, pos: int, text: str) -> SoqlError:
    return SoqlError("MALFORMED_QUERY", _located(source, pos, text))


def _invalid_field(source: str, pos: int, text: str) -> SoqlError:
    return SoqlError("INVALID_FIELD", _located(source, pos, text))


# ---------------------------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------------------------

IDENT = "IDENT"
STRING = "STRING"
NUMBER = "NUMBER"
DATE = "DATE"
DATETIME = "DATETIME"
LPAREN = "("
RPAREN = ")"
COMMA = ","
COLON = ":"
OP = "OP"
EOF = "EOF"


@dataclass(frozen=True, slots=True)
class Token:
    """One lexeme. ``pos``/``end`` are offsets into the source, kept for error carets.

    For strings ``value`` is the raw text between the quotes: escapes are decoded by the
    parser, because LIKE needs to tell ``\\%`` (a literal percent) from ``%`` (a wildcard),
    which a decoded string can no longer express.
    """

    kind: str
    value: Any
    pos: int
    end: int


# Small anchored patterns for the numeric-looking lexemes only; everything else is scanned by
# hand. Order matters: a datetime starts like a date, which starts like a number.
_DATETIME_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})"
)
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_IDENT_CHARS = _IDENT_START | frozenset("0123456789")
_DIGITS = frozenset("0123456789")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_US = timedelta(microseconds=1)
_US_PER_DAY = 86_400_000_000
_EPOCH_ORDINAL = _EPOCH.date().toordinal()


def _instant_us(dt: datetime) -> int:
    """Microseconds since the epoch: an int compares exactly and fast, unlike datetimes."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return (dt - _EPOCH) // _ONE_US


def tokenize(source: str) -> list[Token]:
    """Split ``source`` into tokens, ending with an EOF token.

    Raises MALFORMED_QUERY for characters SOQL has no use for and for unterminated strings,
    with Salesforce's lexer-style messages.
    """
    tokens: list[Token] = []
    n = len(source)
    i = 0
    while i < n:
        ch = source[i]
        if ch.isspace():
            i += 1
            continue
        start = i
        if ch in _IDENT_START:
            # Dotted paths (Owner.Name, Lead.Email) are one token; resolution decides later
            # whether they are acceptable.
            i += 1
            while i < n and (source[i] in _IDENT_CHARS or (
                    source[i] == "." and i + 1 < n and source[i + 1] in _IDENT_START)):
                i += 1
            tokens.append(Token(IDENT, source[start:i], start, i))
            continue
        if ch == "'":
            i += 1
            while i < n and source[i] != "'":
                i += 2 if source[i] == "\\" else 1
            if i >= n:
                raise _malformed(source, n, f"line {_row(source, n)}:{_col0(source, n)} "
                                            "mismatched character '<EOF>' expecting '''")
            tokens.append(Token(STRING, source[start + 1:i], start, i + 1))
            i += 1
            continue
        if ch in _DIGITS or (ch in "+-." and i + 1 < n and (
                source[i + 1] in _DIGITS or (source[i + 1] == "." and ch != "."))):
            tok = _scan_numeric(source, i)
            tokens.append(tok)
            i = tok.end
            continue
        if ch in "(),:":
            tokens.append(Token(ch, ch, start, i + 1))
            i += 1
            continue
        two = source[i:i + 2]
        if two in ("!=", "<>", "<=", ">="):
            tokens.append(Token(OP, "!=" if two == "<>" else two, start, i + 2))
            i += 2
            continue
        if ch in "=<>":
            tokens.append(Token(OP, ch, start, i + 1))
            i += 1
            continue
        raise _malformed(source, i, f"line {_row(source, i)}:{_col0(source, i)} "
                                    f"no viable alternative at character '{ch}'")
    tokens.append(Token(EOF, None, n, n))
    return tokens


def _row(source: str, pos: int) -> int:
    return source.count("\n", 0, pos) + 1


def _col0(source: str, pos: int) -> int:
    return pos - (source.rfind("\n", 0, pos) + 1)


def _scan_numeric(source: str, i: int) -> Token:
    """Scan a datetime, date or number literal starting at ``i``.

    Salesforce writes datetimes unquoted (``2024-05-01T10:00:00.000+0000``), so they are
    lexemes of their own rather than strings; a value that looks like one but is not a real
    calendar instant is a syntax error, as in Salesforce.
    """
    m = _DATETIME_RE.match(source, i)
    if m and not _continues_ident(source, m.end()):
        text = m.group(0)
        try:
            value = _instant_us(datetime.fromisoformat(text))
        except ValueError:
            raise _malformed(source, i, f"line {_row(source, i)}:{_col0(source, i)} "
                                        f"invalid datetime: {text}") from None
        return Token(DATETIME, value, i, m.end())
    m = _DATE_RE.match(source, i)
    if m and not _continues_ident(source, m.end()) and (
            m.end() >= len(source) or source[m.end()] not in "T:-+."):
        text = m.group(0)
        try:
            value = date.fromisoformat(text).toordinal()
        except ValueError:
            raise _malformed(source, i, f"line {_row(source, i)}:{_col0(source, i)} "
                                        f"invalid date: {text}") from None
        return Token(DATE, value, i, m.end())
    m = _NUMBER_RE.match(source, i)
    if not m or (m.end() < len(source) and source[m.end()] in "-:T"):
        raise _malformed(source, i, f"line {_row(source, i)}:{_col0(source, i)} "
                                    f"no viable alternative at character '{source[i]}'")
    text = m.group(0)
    number: int | float = float(text) if "." in text else int(text)
    return Token(NUMBER, number, i, m.end())


def _continues_ident(source: str, pos: int) -> bool:
    return pos < len(source) and source[pos] in _IDENT_CHARS


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


# ---------------------------------------------------------------------------------------------
# Value normalisation
# ---------------------------------------------------------------------------------------------

STRING_TYPES = frozenset({
    "id", "reference", "string", "textarea", "email", "phone", "url", "picklist",
    "multipicklist", "combobox", "encryptedstring",
})
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})
_ID_TYPES = frozenset({"id", "reference"})

_ID_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def _id18(value: str) -> str:
    """Expand a 15-character Salesforce id to its 18-character, case-safe form.

    Salesforce accepts either form in filters; normalising both sides to 18 characters lets
    the evaluator compare ids case-insensitively like every other string.
    """
    if len(value) != 15 or not value.isalnum():
        return value
    suffix = ""
    for chunk in range(3):
        bits = 0
        for j, ch in enumerate(value[chunk * 5:chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << j
        suffix += _ID_SUFFIX_ALPHABET[bits]
    return value + suffix


def _norm_string(value: Any) -> str | None:
    # Salesforce stores "" as null, so an empty string is a null for filtering and sorting.
    if value is None:
        return None
    text = value if value.__class__ is str else str(value)
    return text.lower() or None


def _norm_id(value: Any) -> str | None:
    if value is None:
        return None
    text = value if value.__class__ is str else str(value)
    if len(text) == 15:
        text = _id18(text)
    return text.lower() or None


def _norm_boolean(value: Any) -> bool:
    # Checkbox fields are never null in Salesforce; an absent one is false.
    if value is None or value is False:
        return False
    if value is True:
        return True
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _norm_number(value: Any) -> int | float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        text = str(value).strip()
        return float(text) if text else None
    except ValueError:
        return None


@lru_cache(maxsize=262_144)
def _parse_datetime_text(text: str) -> int | None:
    try:
        return _instant_us(datetime.fromisoformat(text))
    except ValueError:
        return None


def _norm_datetime(value: Any) -> int | None:
    if value is None:
        return None
    if value.__class__ is str:
        return _parse_datetime_text(value) if value else None
    if isinstance(value, datetime):
        return _instant_us(value)
    if isinstance(value, date):
        return (value.toordinal() - _EPOCH_ORDINAL) * _US_PER_DAY
    return None


@lru_cache(maxsize=65_536)
def _parse_date_text(text: str) -> int | None:
    try:
        return date.fromisoformat(text[:10]).toordinal()
    except ValueError:
        return None


def _norm_date(value: Any) -> int | None:
    if value is None:
        return None
    if value.__class__ is str:
        return _parse_date_text(value) if value else None
    if isinstance(value, datetime):
        return value.date().toordinal()
    if isinstance(value, date):
        return value.toordinal()
    return None

Normalizer = Callable[[Any], Any]


def _normalizer(field_type: str) -> Normalizer:
    if field_type in _ID_TYPES:
        return _norm_id
    if field_type == "boolean":
        return _norm_boolean
    if field_type in NUMBER_TYPES:
        return _norm_number
    if field_type == "datetime":
        return _norm_datetime
    if field_type == "date":
        return _norm_date
    return _norm_string


def index_key(value: Any, field_type: str) -> Any:
    """The normalised form of a stored value: what equality_constraints() values are made of.

    A caller that indexes records by ``index_key(record.get(f), schema[f])`` can look up the
    constraint values directly (strings lower-cased, ids in 18-character form, "" as None).
    """
    return _normalizer(field_type)(value)


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
