"""The value transforms a mapping can name: pure functions from a form value to a field value.

Each transform takes the value so far and the :class:`Target` it is heading for (the
Salesforce field, its describe when known, the record's country, the field's value map)
and returns the new value, or raises :class:`Dropped` when the value cannot be placed (a
phone number with no digits, a country the org's restricted picklist does not hold).
A dropped value leaves the field out of the record with a note; it never fails the record,
because one odd answer on a form should not cost the whole form fill.

``phone`` reads numbers with libphonenumber in a default region, for numbers written
without their country code: ``[options] phone_region = "GB"`` in the mapping file for every
field, or ``phone_region = "DE"`` on one ``[fields.x]``; ``US`` when neither says
(:data:`DEFAULT_PHONE_REGION`). A value that is not exactly one valid number is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Mapping

from connector.core.geo import DEFAULT_COUNTRY, Place, country_code, geo, normalise_place, state_code
from connector.core.schema import FieldInfo, ObjectSchema, PicklistValue, dependent_values


class Dropped(Exception):
    """A transform could not place the value; the field is left out, with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    """Where a value is going, as far as a transform needs to know."""

    sobject: str                          # "Lead" or "Contact"
    name: str                             # the Salesforce field's API name
    info: FieldInfo | None = None         # from the org's describe, when known
    obj: ObjectSchema | None = None
    length: int | None = None             # the field's length (describe, else the standard one)
    value_map: Mapping[str, str] = field(default_factory=dict)
    country: str | None = None            # the record's country as the form gave it (for state)
    phone_region: str | None = None       # where a national phone number is read (phone)


Transform = Callable[[str, Target], str]


# -- case and length ---------------------------------------------------------------------

def trim(value: str, target: Target) -> str:
    """Strip the ends and collapse runs of spaces (forms pasted from elsewhere carry them)."""
    return re.sub(r"[ \t]{2,}", " ", value.strip())


def lower(value: str, target: Target) -> str:
    return value.lower()


def upper(value: str, target: Target) -> str:
    return value.upper()


def title(value: str, target: Target) -> str:
    """Capitalise words (``jean-paul o'brien`` -> ``Jean-Paul O'Brien``).

    Only a value typed all in one case is changed: mixed case (``McDonald``, ``van der
    Berg``, ``iPhone Ltd``) is how the person wrote their own name, and we keep it.
    """
    if value != value.lower() and value != value.upper():
        return value
    return re.sub(r"[^\W\d_]+(?:'[^\W\d_]+)?", lambda m: _capitalise(m.group()), value.lower())


def _capitalise(word: str) -> str:
    if re.match(r"^[^\W\d_]'[^\W\d_]", word):        # o'brien, d'angelo
        return word[0].upper() + "'" + word[2].upper() + word[3:]
    return word[0].upper() + word[1:]


def truncate(value: str, target: Target) -> str:
    """Cut to the field's length (from the describe when known, else the standard length)."""
    return value[:target.length] if target.length else value


# -- phone -------------------------------------------------------------------------------

# The region a number written without its country code is read in, when the mapping names
# none (``[options] phone_region`` for the file, ``phone_region`` on a field): "(415)
# 555-0100" is a US number, "020 7946 0958" is not a number at all under US rules, and is
# left out (with a note) rather than guessed. ISO 3166-1 alpha-2, as libphonenumber uses.
DEFAULT_PHONE_REGION = "US"

_DIGIT = re.compile(r"\d")


def phone(value: str, target: Target) -> str:
    """Exactly one valid phone number -> E.164 (``+14155550100``), an extension as `` x123``.

    Read with libphonenumber (the ``phonenumbers`` port), in the field's region for numbers
    written without a country code; ``00`` starts an international number as ``+`` does,
    whatever the region's own international prefix. A value that is not exactly one valid
    number is dropped (the field is left out, with a note), never written: digits scraped
    out of "call me after 5pm" are not a number, and two numbers glued together are not
    one; a stray digit outside the number ("415 555 0100 after 5pm") is not understood,
    so it is dropped too. One format for every number keeps them comparable (an
    ``overwrite`` rule does not rewrite ``+1 (555) 010-2000`` back and forth) and dialable.
    """
    import phonenumbers    # imported on first use: only mappings with "phone" pay for it

    if not _DIGIT.search(value):
        raise Dropped(f"{_quote(value)} has no digits to dial")
    region = (target.phone_region or DEFAULT_PHONE_REGION).upper()
    text = value.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    matches = list(phonenumbers.PhoneNumberMatcher(text, region,
                                                   leniency=phonenumbers.Leniency.VALID))
    if len(matches) > 1:
        raise Dropped(f"{_quote(value)} holds {len(matches)} phone numbers, not one")
    if not matches:
        raise Dropped(f"{_quote(value)} is not a valid phone number (read in region {region}; "
                      "set phone_region in the mapping for another country)")
    match = matches[0]
    if _DIGIT.search(text[:match.start] + text[match.end:]):
        raise Dropped(f"{_quote(value)} has digits outside its phone number")
    number = match.number
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164 + (f" x{number.extension}" if number.extension else "")


# -- value maps --------------------------------------------------------------------------

def map_value(value: str, target: Target) -> str:
    """Look the value up in the field's ``map`` (keys compared trimmed, case-insensitively).

    An unmapped value passes through unchanged, unless the map has a ``"*"`` key, whose
    value is then used: ``"*" = ""`` drops whatever the map does not name.
    """
    table = {key.strip().casefold(): out for key, out in target.value_map.items()}
    key = value.strip().casefold()
    if key in table:
        return table[key]
    return table.get("*", value)


# -- countries and states (the table and its spellings: connector.core.geo) ---------------

def address_picklist(target: Target) -> tuple[FieldInfo | None, bool]:
    """The picklist that governs a field's values, and whether values are its labels.

    A picklist field governs itself (values). A text ``Country``/``State`` field is governed
    by its ``CountryCode``/``StateCode`` sibling when State and Country/Territory Picklists
    are enabled: Salesforce then accepts only the names those picklists hold (labels).
    """
    info = target.info
    if info is not None and info.is_picklist and info.picklist:
        return info, False
    if target.obj is not None and re.search(r"(Country|State)$", target.name):
        code_field = target.obj.field(target.name + "Code")
        if code_field is not None and code_field.is_picklist and code_field.picklist:
            return code_field, True
    return None, False


def country(value: str, target: Target) -> str:
    """A country name, code or alias -> the org's picklist value, else the ISO English name."""
    code = country_code(value)
    picklist, by_label = address_picklist(target)
    if picklist is None:
        if code is None:
            raise _Kept(f"{_quote(value)} is not a country we know; kept as typed")
        return geo().countries[code].name
    entry = _pick(picklist.active_values(), value, code, geo().countries.get(code) if code else None)
    if entry is not None:
        return entry.label if by_label else entry.value
    if picklist.restricted or by_label:
        raise Dropped(f"{_quote(value)} is not a country in {target.sobject}.{picklist.name}'s picklist")
    if code is None:
        raise _Kept(f"{_quote(value)} is not a country we know; kept as typed")
    return geo().countries[code].name


def state(value: str, target: Target) -> str:
    """A state name or code -> the org's picklist value, else the ISO name.

    The record's country says whose states to look in (``WA`` is Washington in the US and
    Western Australia in Australia); without one, the US.
    """
    country_of = country_code(target.country) or DEFAULT_COUNTRY
    code = state_code(value, country_of)
    place = geo().states.get(country_of, {}).get(code) if code else None
    picklist, by_label = address_picklist(target)
    if picklist is None:
        if place is None:
            if country_of in geo().states:
                raise _Kept(f"{_quote(value)} is not a state of {country_of} we know; kept as typed")
            return value
        return place.name
    values = (dependent_values(target.obj, picklist, country_of) if target.obj is not None
              and picklist.controller else picklist.active_values())
    entry = _pick(values, value, code, place)
    if entry is not None:
        return entry.label if by_label else entry.value
    if picklist.restricted or by_label:
        raise Dropped(f"{_quote(value)} is not a state of {country_of} in "
                      f"{target.sobject}.{picklist.name}'s picklist")
    return place.name if place else value


def _pick(values: tuple[PicklistValue, ...], typed: str, code: str | None,
          place: Place | None) -> PicklistValue | None:
    """The picklist entry a typed place means: by code, then by any known spelling."""
    if code is not None:
        for entry in values:
            if entry.value.upper() == code:
                return entry
    wanted = set(place.keys) if place else set()
    wanted.add(normalise_place(typed))
    for entry in values:
        if normalise_place(entry.value) in wanted or normalise_place(entry.label) in wanted:
            return entry
    return None


class _Kept(Exception):
    """Not a failure: the value is kept as typed, and the note says it was not recognised."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# -- the registry and the pipeline -------------------------------------------------------

TRANSFORMS: dict[str, Transform] = {
    "trim": trim, "lower": lower, "upper": upper, "title": title, "truncate": truncate,
    "phone": phone, "country": country, "state": state, "map": map_value,
}


def apply_transforms(names: tuple[str, ...], value: str,
                     target: Target) -> tuple[str | None, tuple[str, ...]]:
    """Run the named transforms in order; (value, notes), value None when one dropped it."""
    notes: list[str] = []
    for name in names:
        try:
            value = TRANSFORMS[name](value, target)
        except Dropped as exc:
            return None, (*notes, f"{exc.reason}; dropped")
        except _Kept as exc:
            notes.append(exc.reason)
    return value, tuple(notes)


def _quote(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")
