"""Validation rules: an admin's error condition per object, checked on every API save.

Help, "Validation Rules": a rule's error condition formula "returns a value of True or
False"; when it is true the record is not saved and the rule's error message is shown, at
the field the rule names or at the top of the page. Through the API that is the error
``FIELD_CUSTOM_VALIDATION_EXCEPTION`` with the message and ``fields: [error_field]`` (``[]``
for a top-of-page rule); every failing rule is reported, in rule order. Rules run after the
system checks (required fields, lengths, formats) and before duplicate rules, as in
Salesforce's order of execution; dataset loads (trusted writes) skip them.

Setup input (admin ``salesforce/setup``, dataset ``validation_rules``, Python):
``{"sobject", "name", "error_condition", "error_message", "error_field"?, "active"?}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from .formula import Formula, FormulaError, compile_formula
from .sf_errors import SfError

__all__ = ["RuleError", "ValidationRule", "ValidationRules", "build_rule"]

_NAME_RE = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*$")
_KEYS = {"sobject", "name", "error_condition", "error_message", "error_field", "active",
         "description"}


class RuleError(ValueError):
    """A rule definition Salesforce's Setup would not save; the message says which and why."""


@dataclass(frozen=True)
class ValidationRule:
    sobject: str
    name: str
    error_condition: str
    error_message: str
    error_field: str | None
    active: bool
    formula: Formula
    description: str | None = None

    def spec(self) -> dict[str, Any]:
        """The setup/dataset entry that rebuilds this rule."""
        out: dict[str, Any] = {"sobject": self.sobject, "name": self.name,
                               "error_condition": self.error_condition,
                               "error_message": self.error_message, "active": self.active}
        if self.error_field:
            out["error_field"] = self.error_field
        if self.description:
            out["description"] = self.description
        return out

    def failure(self) -> SfError:
        return SfError("FIELD_CUSTOM_VALIDATION_EXCEPTION", self.error_message,
                       [self.error_field] if self.error_field else [])


def build_rule(spec: Any, objects: Mapping[str, Any], where: str = "validation rule") -> ValidationRule:
    """Check a rule definition against the org's objects and compile its formula."""
    if not isinstance(spec, Mapping):
        raise RuleError(f"{where}: expected an object with sobject, name, error_condition, "
                        "error_message")
    unknown = set(spec) - _KEYS
    if unknown:
        raise RuleError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(_KEYS)}")
    lowered = {n.lower(): n for n in objects}
    sobject = lowered.get(str(spec.get("sobject") or "").lower())
    if sobject is None:
        raise RuleError(f"{where}: unknown sobject {spec.get('sobject')!r}")
    obj = objects[sobject]
    name = spec.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name) or len(name) > 40 \
            or name.endswith("_"):
        raise RuleError(f"{where}: name {name!r} must be an API name: up to 40 letters, digits "
                        "and single underscores, starting with a letter")
    message = spec.get("error_message")
    if not isinstance(message, str) or not message.strip() or len(message) > 255:
        raise RuleError(f"{where} {sobject}.{name}: error_message must be 1 to 255 characters")
    field_name = spec.get("error_field")
    error_field = None
    if field_name not in (None, ""):
        fd = obj.field(field_name) if isinstance(field_name, str) else None
        if fd is None:
            raise RuleError(f"{where} {sobject}.{name}: error_field {field_name!r} is not a "
                            f"field of {sobject}")
        error_field = fd.name
    active = spec.get("active", True)
    if not isinstance(active, bool):
        raise RuleError(f"{where} {sobject}.{name}: active must be true or false")
    condition = spec.get("error_condition")
    if not isinstance(condition, str) or not condition.strip():
        raise RuleError(f"{where} {sobject}.{name}: error_condition must be a formula (text)")
    try:
        formula = compile_formula(condition, obj.fields)
    except FormulaError as exc:
        raise RuleError(f"{where} {sobject}.{name}: error_condition: {exc}") from None
    description = spec.get("description")
    return ValidationRule(sobject, name, condition, message.strip(), error_field, active,
                          formula, description if isinstance(description, str) else None)


class ValidationRules:
    """The org's rules, in creation order per object; a name is unique per object."""

    def __init__(self) -> None:
        self._by_object: dict[str, list[ValidationRule]] = {}

    def put(self, rule: ValidationRule) -> None:
        """Add a rule, or replace the object's rule of the same name (case-insensitive)."""
        rules = self._by_object.setdefault(rule.sobject, [])
        for i, old in enumerate(rules):
            if old.name.lower() == rule.name.lower():
                rules[i] = rule
                return
        rules.append(rule)

    def remove(self, sobject: str, name: str) -> bool:
        rules = self._by_object.get(sobject, [])
        keep = [r for r in rules if r.name.lower() != name.lower()]
        self._by_object[sobject] = keep
        return len(keep) != len(rules)

    def for_object(self, sobject: str) -> list[ValidationRule]:
        return list(self._by_object.get(sobject, ()))

    def all(self) -> Iterable[ValidationRule]:
        for rules in self._by_object.values():
            yield from rules

    def check(self, sobject: str, record: Mapping[str, Any]) -> None:
        """Raise FIELD_CUSTOM_VALIDATION_EXCEPTION listing every active rule that fires."""
        rules = self._by_object.get(sobject)
        if not rules:
            return
        failed = [r for r in rules if r.active and r.formula(record)]
        if failed:
            first, *rest = (r.failure() for r in failed)
            first.also = list(rest)
            raise first

    def dump(self) -> list[dict[str, Any]]:
        return [r.spec() for r in self.all()]
