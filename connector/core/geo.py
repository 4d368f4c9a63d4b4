"""Countries and states: one table and one way of reading a place, for every room that asks.

The ``country``/``state`` transforms turn what a form says into what the org's fields take,
and routing compares a rule's places with a Lead's. They used to keep their own tables and
disagreed (a rule ``state = "Western Australia"`` never matched a Lead whose State is
``WA``; "Côte d'Ivoire" was CI for one and unknown to the other). Both now read the shipped
``mappings/countries.json`` (ISO 3166 names and codes plus common aliases: add aliases
there) through :func:`geo`, and spell a place the same way (:func:`normalise_place`).

The file is read once per process through :mod:`connector.shipped`; everything else here
works on the indexed data.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

from connector.shipped import geo_data

DEFAULT_COUNTRY = "US"   # a state without a country is read as a US state


@dataclass(frozen=True)
class Place:
    """One country or state: its code, its ISO name and every spelling that means it."""

    code: str                 # ISO 3166-1 alpha-2, or the part of an ISO 3166-2 code after "-"
    name: str                 # the ISO English short name
    keys: frozenset[str]      # every normalised spelling that means it


@dataclass(frozen=True)
class Geo:
    """The shipped places, indexed by every spelling (normalised) for one-step lookups."""

    countries: Mapping[str, Place]                 # code -> Place
    country_index: Mapping[str, str]               # normalised spelling -> code
    states: Mapping[str, Mapping[str, Place]]      # country code -> state code -> Place
    state_index: Mapping[str, Mapping[str, str]]   # country code -> spelling -> state code


def normalise_place(text: str) -> str:
    """A spelling of a place reduced for comparison: accents, case, dots, punctuation, "the".

    ``U.S.A.`` -> ``usa``; ``Côte d'Ivoire`` -> ``cote divoire``; ``The Netherlands`` ->
    ``netherlands``.
    """
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace("&", " and ").replace(".", "").replace("'", "").replace("\u2019", "")
    text = re.sub(r"[^\w]+", " ", text).strip()
    return re.sub(r"^the ", "", text)


def _spellings(code: str, name: str, aliases: list[str], *extra: str) -> frozenset[str]:
    names = [name, *aliases]
    for n in list(names):           # "Korea, Republic of" is also "Republic of Korea"
        if ", " in n:
            head, tail = n.split(", ", 1)
            names.append(f"{tail} {head}")
    return frozenset({normalise_place(n) for n in names} | {code.lower(), *(e.lower() for e in extra)})


def build_geo(data: Mapping[str, Any]) -> Geo:
    """Index the data of ``countries.json`` (``countries`` and ``states`` lists) by spelling.

    The first place to claim a spelling keeps it, so the file's order settles a clash.
    """
    countries: dict[str, Place] = {}
    index: dict[str, str] = {}
    for row in data["countries"]:
        place = Place(row["code"], row["name"],
                      _spellings(row["code"], row["name"], row.get("aliases", []), row["alpha3"]))
        countries[place.code] = place
        for key in place.keys:
            index.setdefault(key, place.code)
    states: dict[str, dict[str, Place]] = {}
    state_index: dict[str, dict[str, str]] = {}
    for country, rows in data["states"].items():
        states[country], state_index[country] = {}, {}
        for row in rows:
            keys = _spellings(row["code"], row["name"], row.get("aliases", []), f"{country}-{row['code']}")
            place = Place(row["code"], row["name"], keys)
            states[country][place.code] = place
            for key in keys:
                state_index[country].setdefault(key, place.code)
    return Geo(countries, index, states, state_index)


@lru_cache(maxsize=1)
def geo() -> Geo:
    """The shipped country and state names (mappings/countries.json), indexed once."""
    return build_geo(geo_data())


def country_code(text: str | None) -> str | None:
    """The ISO alpha-2 code a name, code or common alias stands for, or None."""
    if not text:
        return None
    return geo().country_index.get(normalise_place(text))


def state_code(text: str, country: str) -> str | None:
    """The subdivision code (``CA``, ``NSW``) of a state name or code within a country."""
    return geo().state_index.get(country, {}).get(normalise_place(text))


def _fallback_key(text: str) -> str:
    """A place no table knows, in a form that still compares equal to itself as typed."""
    key = normalise_place(text)
    return key.upper() if len(key) == 2 and key.isalpha() else key


def country_key(text: str) -> str:
    """A country for comparing: its ISO alpha-2 code when known ("Germany", "de", "DEU" ->
    "DE"), else its normalised text, so a name outside the table still matches itself."""
    return country_code(text) or _fallback_key(text)


def state_key(text: str, country: str | None = None) -> str:
    """A state for comparing: ``"<country>-<code>"`` when known, else its normalised text.

    ``country`` (a code or a name) says whose states to look in first: ``WA`` is ``AU-WA``
    in Australia and ``US-WA`` without a country. Not found there (or no country), the
    states of the US, then of every other country the data holds, are searched in turn, so
    "British Columbia" or "Western Australia" alone still finds its country.
    """
    place = normalise_place(text)
    tables = geo().state_index
    home = country_code(country) if country else None
    order = [home] if home is not None and home in tables else []
    order += [c for c in (DEFAULT_COUNTRY, *tables) if c not in order]
    for code in order:
        found = tables.get(code, {}).get(place)
        if found is not None:
            return f"{code}-{found}"
    return _fallback_key(text)
