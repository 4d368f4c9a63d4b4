"""State and Country/Territory Picklists: the countries and states an org knows, and the
code picklist fields each address gains when the setting is on.

Split out of ``sf_schema``: the integration values (ISO codes and names) and the fields
derived from them are data of their own, read by the schema and the store's address sync.
"""

from __future__ import annotations

from typing import Iterable

from .sf_fields import FieldDef


# -- State and Country/Territory Picklists -----------------------------------------------
# An org setting. When on, each address gets picklist code fields beside its text fields
# (CountryCode, StateCode; Mailing... on Contact, Billing... on Account): the code picklist's
# values are ISO codes, its labels the names, and the text field holds the "integration
# value" (by default the name). StateCode depends on CountryCode (controllerName, validFor).
# Simplification: a subset of Salesforce's 235 standard countries, states for US, CA and AU
# only, and integration values that always equal the standard names.

COUNTRIES: dict[str, str] = {
    "AE": "United Arab Emirates", "AR": "Argentina", "AT": "Austria", "AU": "Australia",
    "BE": "Belgium", "BR": "Brazil", "CA": "Canada", "CH": "Switzerland", "CL": "Chile",
    "CN": "China", "CO": "Colombia", "CZ": "Czechia", "DE": "Germany", "DK": "Denmark",
    "EG": "Egypt", "ES": "Spain", "FI": "Finland", "FR": "France", "GB": "United Kingdom",
    "GR": "Greece", "HK": "Hong Kong", "HU": "Hungary", "ID": "Indonesia", "IE": "Ireland",
    "IL": "Israel", "IN": "India", "IT": "Italy", "JP": "Japan", "KR": "Korea, Republic of",
    "MX": "Mexico", "MY": "Malaysia", "NG": "Nigeria", "NL": "Netherlands", "NO": "Norway",
    "NZ": "New Zealand", "PH": "Philippines", "PL": "Poland", "PT": "Portugal",
    "RO": "Romania", "SA": "Saudi Arabia", "SE": "Sweden", "SG": "Singapore",
    "TH": "Thailand", "TR": "Turkey", "TW": "Taiwan", "UA": "Ukraine", "US": "United States",
    "VN": "Viet Nam", "ZA": "South Africa",
}

STATES: dict[str, dict[str, str]] = {
    "US": {
        "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
        "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
        "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
        "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
        "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
        "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
        "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
        "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota",
        "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
        "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee",
        "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
        "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    },
    "CA": {
        "AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
        "NL": "Newfoundland and Labrador", "NS": "Nova Scotia", "NT": "Northwest Territories",
        "NU": "Nunavut", "ON": "Ontario", "PE": "Prince Edward Island", "QC": "Quebec",
        "SK": "Saskatchewan", "YT": "Yukon Territories",
    },
    "AU": {
        "ACT": "Australian Capital Territory", "NSW": "New South Wales",
        "NT": "Northern Territory", "QLD": "Queensland", "SA": "South Australia",
        "TAS": "Tasmania", "VIC": "Victoria", "WA": "Western Australia",
    },
}

# The address groups that get code fields: sObject -> field prefixes.
ADDRESSES: dict[str, tuple[str, ...]] = {"Lead": ("",), "Contact": ("Mailing",),
                                         "Account": ("Billing",)}

_COUNTRY_ORDER = tuple(sorted(COUNTRIES, key=lambda c: COUNTRIES[c]))   # picklist order: by name
COUNTRY_BY_NAME = {name.lower(): code for code, name in COUNTRIES.items()}


def valid_for(indexes: Iterable[int]) -> str:
    """The base64 ``validFor`` bitmap: bit i (most significant first) = controller value i."""
    import base64
    idx = list(indexes)
    size = (max(idx) // 8 + 1) if idx else 0
    bits = bytearray(size)
    for i in idx:
        bits[i // 8] |= 0x80 >> (i % 8)
    return base64.b64encode(bytes(bits)).decode("ascii")


def address_code_fields(prefix: str) -> list[FieldDef]:
    """CountryCode and StateCode picklists for one address (``prefix`` '', 'Mailing', ...).

    StateCode lists every country's states, so a code such as WA appears twice (Washington
    for US, Western Australia for AU), each entry valid for its own country, as in an org.
    """
    lead = f"{prefix} " if prefix else ""
    states = [(code, name, country) for country in _COUNTRY_ORDER
              for code, name in sorted(STATES.get(country, {}).items(), key=lambda kv: kv[1])]
    position = {c: i for i, c in enumerate(_COUNTRY_ORDER)}
    return [
        FieldDef(f"{prefix}CountryCode", "picklist", label=f"{lead}Country Code", length=10,
                 picklist=_COUNTRY_ORDER, restricted=True,
                 picklist_labels=tuple(COUNTRIES[c] for c in _COUNTRY_ORDER)),
        FieldDef(f"{prefix}StateCode", "picklist", label=f"{lead}State/Province Code",
                 length=10, picklist=tuple(s[0] for s in states), restricted=True,
                 picklist_labels=tuple(s[1] for s in states),
                 controller=f"{prefix}CountryCode",
                 valid_for=tuple(valid_for([position[s[2]]]) for s in states)),
    ]
