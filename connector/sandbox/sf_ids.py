"""Salesforce record ids: 15- and 18-character forms, and the sandbox's id numbering.

Split out of ``sf_schema``: the case-safe suffix and the id layout are used by the store,
the SOQL evaluator's neighbours and the REST routes alike, independent of any object.
"""

from __future__ import annotations

import re
from functools import lru_cache


# -- ids -------------------------------------------------------------------------------

_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")
POD = "8c0"  # two pod characters and the reserved one, as in 00Q8c0000012345AAA


def id_suffix(id15: str) -> str:
    """The 3-character case checksum Salesforce appends to a 15-character id."""
    out = []
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(id15[chunk * 5:chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        out.append(_SUFFIX_CHARS[bits])
    return "".join(out)


@lru_cache(maxsize=262_144)
def to_id18(value: str) -> str | None:
    """Return the 18-character form of a 15/18-character id, or None when malformed."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        return None
    if len(value) == 18:
        # Salesforce accepts an 18-char id whose suffix differs only in case of the suffix;
        # a wrong checksum means the first 15 characters were mangled.
        return value if id_suffix(value[:15]) == value[15:].upper() else None
    return value + id_suffix(value)


def make_id(prefix: str, number: int) -> str:
    digits = []
    n = number
    for _ in range(9):
        n, r = divmod(n, 62)
        digits.append(_BASE62[r])
    id15 = prefix + POD + "".join(reversed(digits))
    return id15 + id_suffix(id15)


def id_number(id18: str, prefix: str) -> int | None:
    """The counter inside an id this sandbox generated, so loaded ids never collide."""
    if not id18.startswith(prefix + POD):
        return None
    n = 0
    for ch in id18[6:15]:
        n = n * 62 + _BASE62.index(ch)
    return n
