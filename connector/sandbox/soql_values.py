"""SOQL value normalisation: one comparable form per field type.

Split out of ``soql``: case-insensitive strings, 18-character ids, instants across UTC
offsets and dates as day numbers are what the evaluator compares and sorts on, and what the
store's hash indexes key on (``index_key``), so both read values the same way.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Any, Callable

from .soql_lex import _EPOCH_ORDINAL, _US_PER_DAY, _instant_us


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
