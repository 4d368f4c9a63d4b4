"""State and Country/Territory Picklists: address text and code fields kept in step.

Split out of ``sf_store``: with the org setting on, each address has code picklists beside
its text fields and Salesforce's field syncing keeps them agreeing, with its own error
messages; turning the setting on or off adds or drops the codes on every record.
"""

from __future__ import annotations

from typing import Any, Mapping

from .sf_coerce import field_label
from .sf_errors import SfError
from .sf_records import OrgStore, Row
from .sf_schema import (ADDRESSES, COUNTRIES, COUNTRY_BY_NAME, STATES, ObjectDef,
                        address_code_fields)

__all__ = ["set_state_country_picklists", "sync_addresses"]


# State and Country/Territory Picklists: the messages Salesforce gives for a text value that
# is not an integration value; the field's label follows after ": ".
_COUNTRY_PROBLEM = ("There's a problem with this country, even though it may appear correct. "
                    "Please select a country/territory from the list of valid countries.")
_STATE_PROBLEM = ("There's a problem with this state, even though it may appear correct. "
                  "Please select a state from the list of valid states.")


def set_state_country_picklists(store: OrgStore, on: bool) -> None:
    """Turn State and Country/Territory Picklists on or off for the org.

    On adds the code picklists and fills them on existing records whose text values are
    integration values (Salesforce's conversion tool does this with an admin's review;
    here values that match nothing stay as text, a simplification). Off drops the codes.
    """
    on = bool(on)
    if on == store.state_country:
        return
    store.state_country = on
    for name, prefixes in ADDRESSES.items():
        table = store.tables[name]
        for prefix in prefixes:
            fields = address_code_fields(prefix)
            for fd in fields:
                if on:
                    table.obj.add(fd)
                else:
                    table.obj.remove(fd.name)
            for row in table.rows.values():
                if on:
                    _backfill_codes(row, prefix)
                else:
                    for fd in fields:
                        row.pop(fd.name, None)
    store._journal.clear()


def sync_addresses(obj: ObjectDef, row: Row, values: Mapping[str, Any]) -> None:
    """Keep each address's text and code fields in step, as Salesforce's field syncing does.

    A code sets the text to its integration value, an integration value sets the code;
    both given must agree; removing the country removes the state; a state needs a
    country and must belong to it. Text matches integration values case-insensitively
    and is stored as the canonical name.
    """
    for prefix in ADDRESSES[obj.name]:
        ct, cc = f"{prefix}Country", f"{prefix}CountryCode"
        st, sc = f"{prefix}State", f"{prefix}StateCode"
        if not {ct, cc, st, sc} & set(values):
            continue
        _sync_country(obj, row, values, ct=ct, cc=cc, st=st, sc=sc)
        _sync_state(obj, row, values, ct=ct, cc=cc, st=st, sc=sc)


def _sync_country(obj: ObjectDef, row: Row, values: Mapping[str, Any],
                  *, ct: str, cc: str, st: str, sc: str) -> None:
    code, text = values.get(cc), values.get(ct)
    problem = SfError("FIELD_INTEGRITY_EXCEPTION",
                      f"{_COUNTRY_PROBLEM}: {field_label(obj.fields[ct])}", [ct])
    if code is not None:
        if text is not None and text.lower() != COUNTRIES[code].lower():
            raise problem
        row[ct], row[cc] = COUNTRIES[code], code
    elif text is not None:
        code = COUNTRY_BY_NAME.get(text.strip().lower())
        if code is None:
            raise problem
        row[ct], row[cc] = COUNTRIES[code], code
    elif cc in values or ct in values:
        for name in (ct, cc, st, sc):   # no country: no state either
            row.pop(name, None)


def _sync_state(obj: ObjectDef, row: Row, values: Mapping[str, Any],
                *, ct: str, cc: str, st: str, sc: str) -> None:
    code, text = values.get(sc), values.get(st)
    country = row.get(cc)
    label = field_label(obj.fields[st])
    problem = SfError("FIELD_INTEGRITY_EXCEPTION", f"{_STATE_PROBLEM}: {label}", [st])
    if (code is not None or text is not None) and country is None:
        raise SfError("FIELD_INTEGRITY_EXCEPTION", "A country/territory must be specified "
                      f"before specifying a state value for field: {label}", [st])
    states = STATES.get(country or "", {})
    if code is not None:
        if code not in states:
            raise SfError("FIELD_INTEGRITY_EXCEPTION", f"The {sc} field contains {code}, "
                          "which isn't an available state. Your administrator can add it "
                          "for you.", [sc])
        if text is not None and text.lower() != states[code].lower():
            raise problem
        row[st], row[sc] = states[code], code
    elif text is not None:
        code = next((c for c, n in states.items() if n.lower() == text.strip().lower()), None)
        if code is None:
            raise problem
        row[st], row[sc] = states[code], code
    elif sc in values or st in values:
        row.pop(st, None)
        row.pop(sc, None)
    elif row.get(sc) is not None and row[sc] not in states:
        raise problem   # the country changed under a state it does not have


def _backfill_codes(row: Row, prefix: str) -> None:
    """Fill an existing record's address codes from text that is an integration value."""
    code = COUNTRY_BY_NAME.get(str(row.get(f"{prefix}Country") or "").strip().lower())
    if code is None:
        return
    row[f"{prefix}Country"], row[f"{prefix}CountryCode"] = COUNTRIES[code], code
    state = str(row.get(f"{prefix}State") or "").strip().lower()
    for scode, name in STATES.get(code, {}).items():
        if name.lower() == state:
            row[f"{prefix}State"], row[f"{prefix}StateCode"] = name, scode
