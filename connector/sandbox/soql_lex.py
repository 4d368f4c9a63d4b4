"""SOQL errors and the tokenizer: where a query goes wrong, and its lexemes.

Split out of ``soql``: Salesforce's error text (the offending row, a caret, Row/Column) is
shared by the parser, the evaluator and ``soql_rel``/``soql_agg``; the tokenizer understands
SOQL string escapes exactly and hands the parser tokens that keep their offsets for those
carets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any


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
