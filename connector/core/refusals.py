"""Why Salesforce refused records, grouped so an admin knows what to change.

A run parks each refused response with Salesforce's own reason (``DUPLICATES_DETECTED:
Use one of these records?``). Read one by one, forty of those say little; grouped by what
the admin would change (a duplicate rule, a validation rule, a required field) they say
what to do once. Pure: error codes in, :class:`RefusalGroup` out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Mapping


@dataclass(frozen=True)
class Category:
    name: str            # e.g. "duplicate rule"
    advice: str          # what to change, then ``leadsync retry``


# Salesforce's error code -> what blocked the record and what the admin can change.
CATEGORIES: Mapping[str, Category] = {
    "DUPLICATES_DETECTED": Category(
        "duplicate rule",
        'the org\'s duplicate rules matched an existing Lead or Contact: set [salesforce] '
        'duplicate_rules = "allow" to save such records anyway, or change the rule (Setup > '
        "Duplicate Rules), or merge the records; then run `leadsync retry`"),
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": Category(
        "validation rule",
        "a validation rule refused the values (its message is on each parked response): change "
        "the mapping's transforms or [defaults] so the values pass, or the rule (Setup > Object "
        "Manager > Validation Rules); then run `leadsync retry`"),
    "REQUIRED_FIELD_MISSING": Category(
        "required field",
        "a field the org requires was empty: map a form field to it or give it a value in the "
        "mapping's [defaults] (`leadsync mappings check` names such fields); then run "
        "`leadsync retry`"),
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": Category(
        "picklist value",
        "a value is not in a restricted picklist: map the form's answers to the org's values "
        "(`leadsync mappings check` lists them); then run `leadsync retry`"),
}


@dataclass(frozen=True)
class RefusalGroup:
    code: str
    count: int
    category: str
    advice: str

    def __str__(self) -> str:
        return f"{self.category} blocked {self.count} record(s) ({self.code}): {self.advice}"

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "count": self.count, "category": self.category,
                "advice": self.advice}


def group_refusals(codes: Iterable[str | None]) -> list[RefusalGroup]:
    """The refusals with advice, most frequent first; codes without advice are left to the
    parked responses' own messages."""
    counted = Counter(code for code in codes if code is not None and code in CATEGORIES)
    return [RefusalGroup(code, n, CATEGORIES[code].name, CATEGORIES[code].advice)
            for code, n in sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))]
