"""Each transform as a table: what a form sends -> what the Salesforce field gets."""

from __future__ import annotations

import base64

import pytest

from connector.core.schema import FieldInfo, ObjectSchema, PicklistValue, valid_for
from connector.core.geo import country_code, geo, normalise_place
from connector.core.transforms import (TRANSFORMS, Dropped, Target, apply_transforms, country, map_value, phone,
                                       state, trim, truncate)

PLAIN = Target("Lead", "X")


def _bits(*indexes: int) -> str:
    raw = bytearray(max(indexes) // 8 + 1)
    for i in indexes:
        raw[i // 8] |= 0x80 >> (i % 8)
    return base64.b64encode(bytes(raw)).decode()


# An org with State and Country/Territory Picklists: CountryCode (AU, CA, US at 0, 1, 2) and
# StateCode depending on it, WA twice (Western Australia, Washington).
COUNTRY_CODE = FieldInfo("CountryCode", "picklist", 10, restricted=True, picklist=(
    PicklistValue("AU", "Australia"), PicklistValue("CA", "Canada"),
    PicklistValue("US", "United States"), PicklistValue("TR", "Turkey")))
STATE_CODE = FieldInfo("StateCode", "picklist", 10, restricted=True, controller="CountryCode", picklist=(
    PicklistValue("WA", "Western Australia", valid_for=_bits(0)),
    PicklistValue("NSW", "New South Wales", valid_for=_bits(0)),
    PicklistValue("ON", "Ontario", valid_for=_bits(1)),
    PicklistValue("CA", "California", valid_for=_bits(2)),
    PicklistValue("WA", "Washington", valid_for=_bits(2))))
TEXT = {n: FieldInfo(n, "string", 80) for n in ("Country", "State")}
PICKLIST_ORG = ObjectSchema("Lead", {f.name.lower(): f for f in (COUNTRY_CODE, STATE_CODE, *TEXT.values())})
TEXT_ORG = ObjectSchema("Lead", {f.name.lower(): f for f in TEXT.values()})


def target(name: str, obj: ObjectSchema | None = None, **kw: object) -> Target:
    return Target("Lead", name, obj.field(name) if obj else None, obj, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("given, expected", [
    ("  Bob   Smith ", "Bob Smith"), ("\tAcme\t", "Acme"), ("", ""),
])
def test_trim(given, expected):
    assert trim(given, PLAIN) == expected


@pytest.mark.parametrize("name, given, expected", [
    ("lower", "Bob@ACME", "bob@acme"), ("upper", "sw1a 1aa", "SW1A 1AA"),
    ("title", "bob smith", "Bob Smith"), ("title", "BOB SMITH", "Bob Smith"),
    ("title", "jean-paul o'brien", "Jean-Paul O'Brien"), ("title", "McDonald", "McDonald"),
    ("title", "van der Berg", "van der Berg"), ("title", "josé álvarez", "José Álvarez"),
])
def test_case(name, given, expected):
    assert TRANSFORMS[name](given, PLAIN) == expected


@pytest.mark.parametrize("length, given, expected", [
    (5, "abcdefgh", "abcde"), (10, "abc", "abc"), (None, "abcdefgh", "abcdefgh"),
])
def test_truncate(length, given, expected):
    assert truncate(given, Target("Lead", "X", length=length)) == expected


@pytest.mark.parametrize("given, expected", [
    ("+1 (415) 555-0100", "+14155550100"),
    ("(415) 555-0100", "+14155550100"),            # read in the default region (US): E.164
    ("0044 20 7946 0958", "+442079460958"),
    ("+44 (0)20 7946 0958", "+442079460958"),       # the trunk "(0)" is not dialled from abroad
    ("415.555.0100 ext. 42", "+14155550100 x42"),
    ("415-555-0100 x7", "+14155550100 x7"),
    ("+1 415 555 0100 extension 123", "+14155550100 x123"),
    ("415 555 0100 #9", "+14155550100 x9"),
])
def test_phone(given, expected):
    assert phone(given, PLAIN) == expected


@pytest.mark.parametrize("given", ["call me", "n/a", "---"])
def test_phone_without_digits_is_dropped(given):
    with pytest.raises(Dropped, match="no digits"):
        phone(given, PLAIN)


@pytest.mark.parametrize("given, expected", [
    ("hot", "Hot"), ("  HOT ", "Hot"), ("Warm", "Warm"), ("lukewarm", "lukewarm"),
])
def test_map_passes_unmapped_values_through(given, expected):
    assert map_value(given, Target("Lead", "Rating", value_map={"hot": "Hot", "WARM": "Warm"})) == expected


def test_map_star_is_the_default():
    t = Target("Lead", "Rating", value_map={"hot": "Hot", "*": "Cold"})
    assert map_value("hot", t) == "Hot" and map_value("anything", t) == "Cold"


@pytest.mark.parametrize("given, code", [
    ("United States", "US"), ("usa", "US"), ("U.S.A.", "US"), ("US", "US"), ("America", "US"),
    ("UK", "GB"), ("Great Britain", "GB"), ("england", "GB"), ("GBR", "GB"),
    ("Deutschland", "DE"), ("germany", "DE"), ("The Netherlands", "NL"), ("Holland", "NL"),
    ("South Korea", "KR"), ("Korea, Republic of", "KR"), ("Republic of Korea", "KR"),
    ("Côte d'Ivoire", "CI"), ("Cote dIvoire", "CI"), ("Ivory Coast", "CI"), ("Türkiye", "TR"),
    ("Turkey", "TR"), ("Viet Nam", "VN"), ("Vietnam", "VN"), ("Czech Republic", "CZ"),
    ("Atlantis", None), ("", None),
])
def test_country_codes(given, code):
    assert country_code(given) == code


def test_every_iso_country_and_the_three_state_tables_ship():
    g = geo()
    assert len(g.countries) == 249
    assert {len(g.states[c]) for c in ("US", "CA", "AU")} and len(g.states["US"]) >= 51
    assert len(g.states["CA"]) == 13 and len(g.states["AU"]) == 8
    # every country is found by its own name and code
    for code, place in g.countries.items():
        assert country_code(place.name) == code and country_code(code) == code


@pytest.mark.parametrize("given, obj, name, expected", [
    ("usa", None, "Country", "United States"),                  # no schema: the ISO name
    ("uk", TEXT_ORG, "Country", "United Kingdom"),              # text, no picklists: ISO name
    ("usa", PICKLIST_ORG, "CountryCode", "US"),                 # the code picklist: the code
    ("United States of America", PICKLIST_ORG, "Country", "United States"),   # text + picklists: label
    ("Türkiye", PICKLIST_ORG, "Country", "Turkey"),             # the org's label, not ISO's
    ("canada", PICKLIST_ORG, "CountryCode", "CA"),
])
def test_country_to_the_orgs_value(given, obj, name, expected):
    assert country(given, target(name, obj)) == expected


@pytest.mark.parametrize("given, name", [("Atlantis", "CountryCode"), ("Germany", "CountryCode"),
                                         ("Atlantis", "Country")])
def test_country_the_picklist_lacks_is_dropped(given, name):
    with pytest.raises(Dropped, match="not a country in Lead.CountryCode"):
        country(given, target(name, PICKLIST_ORG))


def test_unknown_country_in_a_text_field_is_kept_with_a_note():
    value, notes = apply_transforms(("country",), "Atlantis", target("Country", TEXT_ORG))
    assert value == "Atlantis" and "not a country we know" in notes[0]


@pytest.mark.parametrize("given, country_typed, obj, name, expected", [
    ("ca", None, None, "State", "California"),                   # no country: US
    ("California", "usa", None, "State", "California"),
    ("N.S.W.", "Australia", None, "State", "New South Wales"),
    ("wa", "Australia", None, "State", "Western Australia"),
    ("wa", "US", None, "State", "Washington"),
    ("Québec", "Canada", None, "State", "Quebec"),
    ("Bavaria", "Germany", None, "State", "Bavaria"),           # no table for DE: as typed
    ("wa", "AU", PICKLIST_ORG, "StateCode", "WA"),
    ("Washington", "US", PICKLIST_ORG, "StateCode", "WA"),
    ("wa", "Australia", PICKLIST_ORG, "State", "Western Australia"),   # validFor tells them apart
    ("wa", "United States", PICKLIST_ORG, "State", "Washington"),
    ("ontario", "CA", PICKLIST_ORG, "State", "Ontario"),
])
def test_state_within_the_records_country(given, country_typed, obj, name, expected):
    assert state(given, target(name, obj, country=country_typed)) == expected


def test_state_not_valid_for_the_country_is_dropped():
    with pytest.raises(Dropped, match="not a state of CA"):
        state("California", target("StateCode", PICKLIST_ORG, country="Canada"))


def test_apply_runs_in_order_and_stops_at_a_drop():
    assert apply_transforms(("trim", "lower", "map"), "  HOT ",
                            Target("Lead", "Rating", value_map={"hot": "Hot"})) == ("Hot", ())
    value, notes = apply_transforms(("trim", "phone", "upper"), " none ", PLAIN)
    assert value is None and notes == ("'none' has no digits to dial; dropped",)


def test_valid_for_bits_are_most_significant_first():
    entry = PicklistValue("WA", "Washington", valid_for=_bits(2, 9))
    assert [i for i in range(16) if valid_for(entry, i)] == [2, 9]
    assert valid_for(PicklistValue("X", "X"), 5)            # not dependent: valid everywhere


@pytest.mark.parametrize("given, expected", [
    ("U.S.A.", "usa"), ("The Netherlands", "netherlands"), ("Côte d'Ivoire", "cote divoire"),
    ("Bosnia & Herzegovina", "bosnia and herzegovina"), ("  Congo-Kinshasa ", "congo kinshasa"),
])
def test_normalise_place(given, expected):
    assert normalise_place(given) == expected
