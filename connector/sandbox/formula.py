"""A documented subset of Salesforce's formula language, for validation rules (no ``eval``).

Why a parser: an admin's error condition is text; evaluating it with Python would accept
what Salesforce rejects and run what no org can. Here the text is tokenized, parsed by
recursive descent into a small tree, type-checked against the object's fields when the rule
is set up (so a bad formula is refused then, with the formula editor's kind of message), and
evaluated per record.

Supported (Help, "Formula Operators and Functions"): literals (numbers, "text" or 'text' with
backslash escapes, TRUE, FALSE, NULL), field references on the rule's own object, ``( )``,
``+ - * / ^``, ``&`` and text ``+`` (concatenate), ``= == != <> < > <= >=``, ``&& ||``, and the
functions AND, OR, NOT, IF, ISBLANK, ISNULL, ISPICKVAL, TEXT, LEN, BEGINS, CONTAINS, REGEX.
Semantics follow the Help pages: text comparisons and BEGINS/CONTAINS are case-sensitive; a
blank text field is the empty string; REGEX matches the *entire* text (Java syntax, which
Python's ``re`` shares for the common constructs); ISPICKVAL's second argument must be a text
literal; a picklist field may appear only inside ISPICKVAL, TEXT, ISBLANK and ISNULL. Blank
numbers and dates are "treated as blanks": arithmetic on a blank is blank, and a comparison
with a blank is FALSE, so such a rule does not fire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Mapping

__all__ = ["FormulaError", "Formula", "compile_formula"]


class FormulaError(ValueError):
    """A formula Salesforce's editor would refuse; the message says why, in its words."""


# -- tokens ------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>\d+(?:\.\d*)?|\.\d+)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z_$][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>==|!=|<>|<=|>=|&&|\|\||[-+*/^&=<>(),])
""", re.X)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}


@dataclass(frozen=True)
class _Tok:
    kind: str       # num, str, name, op, end
    value: Any
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise FormulaError(f"Syntax error. Found '{text[pos]}'")
        kind = m.lastgroup or ""
        raw = m.group(0)
        if kind == "num":
            out.append(_Tok("num", float(raw) if "." in raw else int(raw), pos))
        elif kind == "str":
            body = raw[1:-1]
            out.append(_Tok("str", re.sub(r"\\(.)", lambda e: _ESCAPES.get(e.group(1), e.group(1)),
                                          body), pos))
        elif kind == "name":
            out.append(_Tok("name", raw, pos))
        elif kind == "op":
            out.append(_Tok("op", raw, pos))
        pos = m.end()
    out.append(_Tok("end", None, len(text)))
    return out


# -- types ---------------------------------------------------------------------------------

TEXT, NUMBER, BOOLEAN, PICKLIST, DATE, DATETIME, NULL = (
    "Text", "Number", "Boolean", "Picklist", "Date", "Date/Time", "Null")
_FIELD_TYPES = {"boolean": BOOLEAN, "int": NUMBER, "double": NUMBER, "currency": NUMBER,
                "percent": NUMBER, "date": DATE, "datetime": DATETIME, "picklist": PICKLIST}
_PICKLIST_OK = {"ISPICKVAL", "TEXT", "ISBLANK", "ISNULL"}

Evaluator = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class _Node:
    type: str
    run: Evaluator
    literal: Any = None          # the value, when the node is a literal
    is_literal: bool = False
    picklist_field: bool = False  # a bare picklist field reference


def _same(a: str, b: str) -> bool:
    return a == b or NULL in (a, b) or {a, b} <= {DATE, DATETIME}


# -- parser --------------------------------------------------------------------------------

class _Parser:
    """Recursive descent; precedence from loosest: ||, &&, comparisons, + - &, * /, ^, unary."""

    def __init__(self, text: str, fields: Mapping[str, Any]) -> None:
        self.toks = _tokenize(text)
        self.i = 0
        self.fields = {name.lower(): fd for name, fd in fields.items()}
        self.used: set[str] = set()

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def at(self, *ops: str) -> bool:
        tok = self.peek()
        return tok.kind == "op" and tok.value in ops

    def expect(self, op: str) -> None:
        tok = self.peek()
        if not (tok.kind == "op" and tok.value == op):
            found = "end of formula" if tok.kind == "end" else f"'{tok.value}'"
            raise FormulaError(f"Syntax error. Missing '{op}'" if tok.kind == "end"
                               else f"Syntax error. Found {found}, expected '{op}'")
        self.i += 1

    def parse(self) -> _Node:
        if self.peek().kind == "end":
            raise FormulaError("Syntax error. The formula is empty")
        node = self.or_()
        tok = self.peek()
        if tok.kind != "end":
            raise FormulaError(f"Syntax error. Extra '{tok.value}'")
        return node

    def or_(self) -> _Node:
        node = self.and_()
        while self.at("||"):
            self.take()
            node = _logic("||", [node, self.and_()])
        return node

    def and_(self) -> _Node:
        node = self.cmp()
        while self.at("&&"):
            self.take()
            node = _logic("&&", [node, self.cmp()])
        return node

    def cmp(self) -> _Node:
        node = self.add()
        if self.at("=", "==", "!=", "<>", "<", ">", "<=", ">="):
            op = self.take().value
            node = _compare(op, node, self.add())
        return node

    def add(self) -> _Node:
        node = self.mul()
        while self.at("+", "-", "&"):
            op = self.take().value
            node = _arith(op, node, self.mul())
        return node

    def mul(self) -> _Node:
        node = self.pow()
        while self.at("*", "/"):
            op = self.take().value
            node = _arith(op, node, self.pow())
        return node

    def pow(self) -> _Node:
        node = self.unary()
        while self.at("^"):
            self.take()
            node = _arith("^", node, self.unary())
        return node

    def unary(self) -> _Node:
        if self.at("-", "+"):
            op = self.take().value
            inner = _check_number(self.unary(), f"operator '{op}'")
            if op == "+":
                return inner
            return _Node(NUMBER, lambda r: None if (v := inner.run(r)) is None else -v)
        return self.primary()

    def primary(self) -> _Node:
        tok = self.take()
        if tok.kind == "num":
            return _const(NUMBER, tok.value)
        if tok.kind == "str":
            return _const(TEXT, tok.value)
        if tok.kind == "op" and tok.value == "(":
            node = self.or_()
            self.expect(")")
            return _Node(node.type, node.run)   # a parenthesised field is no longer bare
        if tok.kind == "name":
            word = tok.value.upper()
            if self.at("("):
                self.take()
                args: list[_Node] = []
                if not self.at(")"):
                    args.append(self.or_())
                    while self.at(","):
                        self.take()
                        args.append(self.or_())
                self.expect(")")
                return _call(word, args)
            if word in ("TRUE", "FALSE"):
                return _const(BOOLEAN, word == "TRUE")
            if word == "NULL":
                return _const(NULL, None)
            return self.field(tok.value)
        if tok.kind == "end":
            raise FormulaError("Syntax error. Missing an expression at the end of the formula")
        raise FormulaError(f"Syntax error. Found '{tok.value}'")

    def field(self, name: str) -> _Node:
        if "." in name or name.startswith("$"):
            raise FormulaError(f"Field {name} does not exist. Check spelling. (The sandbox "
                               "supports fields of the rule's own object only.)")
        fd = self.fields.get(name.lower())
        if fd is None:
            raise FormulaError(f"Field {name} does not exist. Check spelling.")
        canonical = fd.name
        self.used.add(canonical)
        ftype = _FIELD_TYPES.get(fd.type, TEXT)
        if ftype == TEXT:
            return _Node(TEXT, lambda r: "" if (v := r.get(canonical)) is None else str(v))
        if ftype == PICKLIST:
            return _Node(PICKLIST, lambda r: r.get(canonical) or "", picklist_field=True,
                         literal=canonical)
        if ftype == BOOLEAN:
            return _Node(BOOLEAN, lambda r: bool(r.get(canonical)))
        if ftype in (DATE, DATETIME):
            return _Node(ftype, lambda r: _as_date(r.get(canonical)))
        return _Node(NUMBER, lambda r: r.get(canonical))


def _const(ftype: str, value: Any) -> _Node:
    return _Node(ftype, lambda r: value, literal=value, is_literal=True)


def _as_date(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _no_picklist(node: _Node, where: str) -> None:
    if node.picklist_field:
        raise FormulaError(f"Field {node.literal} is a picklist field. Picklist fields are only "
                           "supported in certain functions.")


def _check(node: _Node, want: str, where: str) -> _Node:
    _no_picklist(node, where)
    if not _same(node.type, want):
        raise FormulaError(f"Incorrect parameter type for {where}. Expected {want}, received "
                           f"{node.type}")
    return node


def _check_number(node: _Node, where: str) -> _Node:
    return _check(node, NUMBER, where)


def _logic(op: str, items: list[_Node]) -> _Node:
    for item in items:
        _check(item, BOOLEAN, f"operator '{op}'" if op in ("&&", "||") else f"function '{op}()'")
    runs = tuple(i.run for i in items)
    if op in ("&&", "AND"):
        return _Node(BOOLEAN, lambda r: all(bool(f(r)) for f in runs))
    return _Node(BOOLEAN, lambda r: any(bool(f(r)) for f in runs))


_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
    "<>": lambda a, b: a != b, "<": lambda a, b: a < b, ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}


def _compare(op: str, left: _Node, right: _Node) -> _Node:
    where = f"operator '{op}'"
    _no_picklist(left, where)
    _no_picklist(right, where)
    if not _same(left.type, right.type):
        raise FormulaError(f"Incorrect parameter type for {where}. Expected {left.type}, "
                           f"received {right.type}")
    if left.type == BOOLEAN and op not in ("=", "==", "!=", "<>"):
        raise FormulaError(f"Incorrect parameter type for {where}. Expected Number, Date, "
                           "Date/Time, Text, received Boolean")
    test = _CMP[op]
    lr, rr = left.run, right.run

    def run(r: Mapping[str, Any]) -> bool:
        a, b = lr(r), rr(r)
        if a is None or b is None:
            return False    # "treat blank fields as blanks": a blank compares as nothing
        return test(a, b)
    return _Node(BOOLEAN, run)


def _arith(op: str, left: _Node, right: _Node) -> _Node:
    where = f"operator '{op}'"
    _no_picklist(left, where)
    _no_picklist(right, where)
    lr, rr = left.run, right.run
    if op == "&" or (op == "+" and TEXT in (left.type, right.type)):
        _check(left, TEXT, where)
        _check(right, TEXT, where)
        return _Node(TEXT, lambda r: (lr(r) or "") + (rr(r) or ""))
    _check_number(left, where)
    _check_number(right, where)
    fn: Callable[[Any, Any], Any] = {
        "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
        "/": lambda a, b: a / b if b else None, "^": lambda a, b: a ** b}[op]

    def run(r: Mapping[str, Any]) -> Any:
        a, b = lr(r), rr(r)
        return None if a is None or b is None else fn(a, b)
    return _Node(NUMBER, run)


def _arity(name: str, args: list[_Node], *counts: int) -> None:
    if len(args) not in counts:
        expected = " or ".join(str(c) for c in counts)
        raise FormulaError(f"Incorrect number of parameters for function '{name}()'. Expected "
                           f"{expected}, received {len(args)}")


def _text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _call(name: str, args: list[_Node]) -> _Node:
    for arg in args:
        if name not in _PICKLIST_OK:
            _no_picklist(arg, f"function '{name}()'")
    where = f"function '{name}()'"
    if name in ("AND", "OR"):
        if not args:
            _arity(name, args, 1)
        return _logic(name, args)
    if name == "NOT":
        _arity(name, args, 1)
        negated = _check(args[0], BOOLEAN, where).run
        return _Node(BOOLEAN, lambda r: not negated(r))
    if name == "IF":
        _arity(name, args, 3)
        cond = _check(args[0], BOOLEAN, where).run
        a, b = args[1], args[2]
        if not _same(a.type, b.type):
            raise FormulaError(f"Incorrect parameter type for {where}. Expected {a.type}, "
                               f"received {b.type}")
        ra, rb = a.run, b.run
        return _Node(a.type if a.type != NULL else b.type,
                     lambda r: ra(r) if cond(r) else rb(r))
    if name in ("ISBLANK", "ISNULL"):
        _arity(name, args, 1)
        tested = args[0].run
        return _Node(BOOLEAN, lambda r: (v := tested(r)) is None or v == "")
    if name == "ISPICKVAL":
        _arity(name, args, 2)
        field, literal = args
        if not field.picklist_field:
            raise FormulaError(f"Incorrect parameter type for {where}. Expected Picklist, "
                               f"received {field.type}")
        if not (literal.is_literal and literal.type == TEXT):
            raise FormulaError(f"Incorrect parameter type for {where}. The second argument "
                               "must be a text literal")
        pick, value = field.run, literal.literal
        return _Node(BOOLEAN, lambda r: pick(r) == value)
    if name == "TEXT":
        _arity(name, args, 1)
        inner = args[0]
        if inner.type == BOOLEAN:
            raise FormulaError(f"Incorrect parameter type for {where}. Expected Number, Date, "
                               "Date/Time, Picklist, Text, received Boolean")
        shown = inner.run
        return _Node(TEXT, lambda r: _text_of(shown(r)))
    if name == "LEN":
        _arity(name, args, 1)
        measured = _check(args[0], TEXT, where).run
        return _Node(NUMBER, lambda r: len(measured(r) or ""))
    if name in ("BEGINS", "CONTAINS"):
        _arity(name, args, 2)
        text, part = (_check(a, TEXT, where).run for a in args)
        if name == "BEGINS":
            return _Node(BOOLEAN, lambda r: (text(r) or "").startswith(part(r) or ""))
        return _Node(BOOLEAN, lambda r: (part(r) or "") in (text(r) or ""))
    if name == "REGEX":
        _arity(name, args, 2)
        subject, pattern = (_check(a, TEXT, where) for a in args)
        if pattern.is_literal:
            try:
                compiled = re.compile(pattern.literal or "", re.DOTALL)
            except re.error as exc:
                raise FormulaError(f"Invalid regular expression in REGEX(): {exc}") from None
            matched = subject.run
            return _Node(BOOLEAN, lambda r: compiled.fullmatch(matched(r) or "") is not None)
        trun, prun = subject.run, pattern.run
        return _Node(BOOLEAN, lambda r: _safe_fullmatch(prun(r), trun(r)))
    raise FormulaError(f"Unknown function {name}. Check spelling.")


def _safe_fullmatch(pattern: Any, text: Any) -> bool:
    try:
        return re.fullmatch(pattern or "", text or "", re.DOTALL) is not None
    except re.error:
        return False


@dataclass(frozen=True)
class Formula:
    """A compiled boolean formula: ``formula(record)`` is True when the condition holds."""

    source: str
    fields: frozenset[str]
    _run: Evaluator

    def __call__(self, record: Mapping[str, Any]) -> bool:
        return bool(self._run(record))


def compile_formula(text: str, fields: Mapping[str, Any]) -> Formula:
    """Parse and type-check ``text`` against ``fields`` (name -> FieldDef with .name/.type).

    The result must be true or false, as a validation rule's error condition must.
    """
    if not isinstance(text, str):
        raise FormulaError("The formula must be text")
    parser = _Parser(text, fields)
    node = parser.parse()
    if node.picklist_field:
        _no_picklist(node, "the formula")
    if node.type != BOOLEAN:
        raise FormulaError(f"Formula result is data type ({node.type}), incompatible with "
                           "expected data type (true or false).")
    return Formula(text, frozenset(parser.used), node.run)
