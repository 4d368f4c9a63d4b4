"""One country/state table for routing and transforms (connector.core.geo).

Routing used to keep its own alias table (``country_key``/``state_key`` in the routing
module) and disagreed with the transforms: a rule ``state = "Western Australia"`` never
matched a Lead whose State is ``WA``, and "Côte d'Ivoire" was CI for one and not the other.
Every alias that old table knew is listed below, as it was, and must still match.
"""

from __future__ import annotations

import pytest

from connector.config.routing import parse_routing
from connector.core.enrich.owners import route, with_owner_ids
from connector.core.enrich.routing import RoutingFacts
from connector.core.geo import country_code, country_key, state_key
from connector.core.transforms import Target, apply_transforms

OWNER = "005000000000011AAA"
IDS = {"user:jane@acme.com": OWNER}

# routing's former built-in table, verbatim: ISO code -> "|"-separated names
OLD_COUNTRIES = {
    "US": "United States|United States of America|USA|America|Vereinigte Staaten",
    "CA": "Canada", "MX": "Mexico|México|MEX", "BR": "Brazil|Brasil|BRA", "AR": "Argentina|ARG",
    "CL": "Chile|CHL", "CO": "Colombia|COL", "PE": "Peru|Perú|PER",
    "GB": "United Kingdom|UK|U.K.|GBR|Great Britain|Britain|England|Scotland|Wales|"
          "Northern Ireland|United Kingdom of Great Britain and Northern Ireland",
    "IE": "Ireland|Éire|IRL|Republic of Ireland", "DE": "Germany|Deutschland|DEU|GER",
    "AT": "Austria|Österreich|Oesterreich|AUT", "CH": "Switzerland|Schweiz|Suisse|Svizzera|CHE",
    "FR": "France|FRA", "BE": "Belgium|België|Belgique|Belgien|BEL",
    "NL": "Netherlands|Nederland|Holland|NLD", "LU": "Luxembourg|Luxemburg|LUX",
    "IT": "Italy|Italia|ITA", "ES": "Spain|España|Espana|ESP", "PT": "Portugal|PRT",
    "DK": "Denmark|Danmark|DNK", "SE": "Sweden|Sverige|SWE", "NO": "Norway|Norge|NOR",
    "FI": "Finland|Suomi|FIN", "IS": "Iceland|ISL", "PL": "Poland|Polska|POL",
    "CZ": "Czechia|Czech Republic|Česko|CZE", "SK": "Slovakia|SVK", "HU": "Hungary|HUN",
    "RO": "Romania|ROU", "BG": "Bulgaria|BGR", "GR": "Greece|GRC", "HR": "Croatia|HRV",
    "SI": "Slovenia|SVN", "EE": "Estonia|EST", "LV": "Latvia|LVA", "LT": "Lithuania|LTU",
    "UA": "Ukraine|UKR", "RU": "Russia|Russian Federation|RUS", "TR": "Turkey|Türkiye|Turkiye|TUR",
    "IL": "Israel|ISR", "AE": "United Arab Emirates|UAE|ARE", "SA": "Saudi Arabia|SAU",
    "ZA": "South Africa|ZAF", "NG": "Nigeria|NGA", "EG": "Egypt|EGY", "KE": "Kenya|KEN",
    "IN": "India|IND", "CN": "China|People's Republic of China|PRC|CHN", "JP": "Japan|JPN",
    "KR": "South Korea|Korea|Republic of Korea|Korea, Republic of|KOR", "SG": "Singapore|SGP",
    "HK": "Hong Kong|HKG", "TW": "Taiwan|TWN", "AU": "Australia|AUS", "NZ": "New Zealand|NZL",
    "MY": "Malaysia|MYS", "ID": "Indonesia|IDN", "TH": "Thailand|THA", "VN": "Vietnam|Viet Nam|VNM",
    "PH": "Philippines|PHL",
}
# ... and its states: US states and DC, then Canadian provinces and territories
OLD_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon",
    "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia",
    "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    "AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
    "NL": "Newfoundland and Labrador|Newfoundland", "NS": "Nova Scotia", "ON": "Ontario",
    "PE": "Prince Edward Island", "QC": "Quebec|Québec", "SK": "Saskatchewan",
    "NT": "Northwest Territories", "NU": "Nunavut", "YT": "Yukon",
}
CANADIAN = {"AB", "BC", "MB", "NB", "NL", "NS", "ON", "PE", "QC", "SK", "NT", "NU", "YT"}

COUNTRY_ALIASES = [(name, code) for code, names in OLD_COUNTRIES.items()
                   for name in [code, *names.split("|")]]
STATE_ALIASES = [(name, code, "CA" if code in CANADIAN else "US") for code, names in OLD_STATES.items()
                 for name in [code, *names.split("|")]]


def routed(rule: dict[str, str], **facts: str | None) -> bool:
    """Does a one-rule table route a response with these facts to the rule's owner?"""
    routing = with_owner_ids(parse_routing({"mode": "rules", "rules": [
        {"owner": "user:jane@acme.com", **rule}]}), IDS)
    choice = route(routing, RoutingFacts("form-1", "pat@example.org", facts.get("country"),
                                         facts.get("state")))
    return choice is not None and choice.owner_id == OWNER


# -- every alias of the old routing table --------------------------------------------------

@pytest.mark.parametrize("alias, code", COUNTRY_ALIASES, ids=[f"{c}:{a}" for a, c in COUNTRY_ALIASES])
def test_every_old_country_alias_is_known_to_the_one_table(alias, code):
    assert country_code(alias) == code
    assert country_key(alias) == code


@pytest.mark.parametrize("alias, code", COUNTRY_ALIASES, ids=[f"{c}:{a}" for a, c in COUNTRY_ALIASES])
def test_every_old_country_alias_still_matches_in_routing(alias, code):
    assert routed({"country": alias}, country=code)
    assert routed({"country": code}, country=alias)


@pytest.mark.parametrize("alias, code, home", STATE_ALIASES,
                         ids=[f"{h}-{c}:{a}" for a, c, h in STATE_ALIASES])
def test_every_old_state_alias_is_known_to_the_one_table(alias, code, home):
    assert state_key(alias) == f"{home}-{code}"
    assert state_key(alias, home) == f"{home}-{code}"


@pytest.mark.parametrize("alias, code, home", STATE_ALIASES,
                         ids=[f"{h}-{c}:{a}" for a, c, h in STATE_ALIASES])
def test_every_old_state_alias_still_matches_in_routing(alias, code, home):
    assert routed({"state": alias}, state=code)
    assert routed({"state": code}, state=alias)
    assert routed({"state": alias}, state=code, country=home)


# -- what the two tables disagreed about ---------------------------------------------------

def test_a_western_australia_rule_matches_an_australian_lead_in_wa():
    rule = {"state": "Western Australia"}
    assert routed(rule, state="WA", country="Australia")
    assert routed(rule, state="wa", country="AU")
    assert routed({"country": "Australia", "state": "WA"}, state="Western Australia", country="AU")
    # ... and the transforms agree: WA in Australia is Western Australia
    assert apply_transforms(("state",), "WA", Target("Lead", "State", country="Australia"))[0] == \
        "Western Australia"


def test_wa_is_washington_in_the_us_and_without_a_country():
    assert not routed({"state": "Western Australia"}, state="WA", country="United States")
    assert not routed({"state": "Western Australia"}, state="WA")
    assert routed({"state": "Washington"}, state="WA")
    assert not routed({"state": "Washington"}, state="WA", country="Australia")
    assert state_key("WA") == "US-WA" and state_key("WA", "AU") == "AU-WA"


@pytest.mark.parametrize("spelling", ["Côte d'Ivoire", "Cote d'Ivoire", "Ivory Coast", "CI", "CIV"])
def test_cote_divoire_is_ci_in_routing_and_in_the_transforms(spelling):
    assert country_key(spelling) == country_code(spelling) == "CI"
    assert routed({"country": "Côte d'Ivoire"}, country=spelling)
    assert routed({"country": spelling}, country="CI")
    placed = apply_transforms(("country",), spelling, Target("Lead", "Country"))[0]
    assert placed == apply_transforms(("country",), "CI", Target("Lead", "Country"))[0]


def test_a_place_no_table_knows_still_matches_itself():
    assert country_key("Atlantis") == "atlantis" and state_key("Bavaria") == "bavaria"
    assert routed({"country": "Atlantis", "state": "Bavaria"}, country="atlantis", state="BAVARIA")
    assert not routed({"country": "Atlantis"}, country="Germany")


def test_a_config_alias_leads_the_country_for_a_state():
    routing = with_owner_ids(parse_routing({"mode": "rules", "country_aliases": {"Oz": "AU"},
                                            "rules": [{"owner": "user:jane@acme.com",
                                                       "state": "Western Australia"}]}), IDS)
    assert route(routing, RoutingFacts("form-1", "pat@example.org", "Oz", "WA")) is not None
