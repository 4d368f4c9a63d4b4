"""HubSpot contacts reads: CRM v3 contacts search and batch read, over the portal's contacts.

Split out of ``hubspot_api``: filter groups, operators, sorting, paging and the search
index's lag, and the batch read's 207 for ids it cannot find, are HubSpot's contacts
semantics, apart from the forms and submissions routes.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Protocol

from .http import Request, Response
from .hubspot_conversions import CONVERSION_COUNTS, CONVERSION_DATES
from .hubspot_requests import Invalid, json_object
from .hubspot_store import Contact, HubSpotStore, iso_ms, parse_ms

__all__ = ["ContactReads", "SEARCH_MAX_LIMIT", "SEARCH_RESULT_CAP", "BATCH_READ_MAX"]

SEARCH_MAX_LIMIT, SEARCH_RESULT_CAP = 200, 10_000
BATCH_READ_MAX = 100
DEFAULT_CONTACT_PROPERTIES = ("createdate", "email", "firstname", "lastmodifieddate", "lastname")
ALWAYS_CONTACT_PROPERTIES = ("createdate", "lastmodifieddate", "hs_object_id")
DATE_PROPERTIES = ("createdate", "lastmodifieddate", *CONVERSION_DATES)
NUMBER_PROPERTIES = CONVERSION_COUNTS


class ContactsHost(Protocol):
    """What the contacts reads use of ``HubSpotApi``: the portal's store and the search lag."""

    store: HubSpotStore
    search_lag_ms: int


class ContactReads:
    """The contacts search and batch read routes (registered, rate-limited, by HubSpotApi)."""

    def __init__(self, api: ContactsHost) -> None:
        self.api = api

    def search(self, req: Request) -> Response:
        body = json_object(req)
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit <= SEARCH_MAX_LIMIT:
            raise Invalid(f"limit must be between 1 and {SEARCH_MAX_LIMIT}, got {limit!r}")
        after = str(body.get("after") or "0")
        if not after.isdigit():
            raise Invalid(f"Invalid 'after': {after!r}")
        offset = int(after)
        if offset >= SEARCH_RESULT_CAP:
            raise Invalid(f"Search can only page through the first {SEARCH_RESULT_CAP} results; "
                          f"after={offset} is past that limit")
        groups = body.get("filterGroups") or []
        if not isinstance(groups, list) or len(groups) > 5 or any(
                not isinstance(g, dict) or len(g.get("filters") or []) > 6 for g in groups):
            raise Invalid("At most 5 filterGroups with at most 6 filters each are allowed")
        indexed_before = self.api.store.now_ms() - self.api.search_lag_ms
        matches = [c for c in self._candidates(groups) if _matches(c, groups)
                   and (not self.api.search_lag_ms or c.updated_ms <= indexed_before)]
        matches.sort(key=_sort_key(body.get("sorts") or []))
        page = matches[offset:offset + limit]
        properties = _requested(body.get("properties"))
        out: dict[str, Any] = {"total": len(matches), "results": [_contact_json(c, properties) for c in page]}
        if offset + limit < len(matches):
            out["paging"] = {"next": {"after": str(offset + limit), "link": f"?after={offset + limit}"}}
        return Response.json(200, out)

    def _candidates(self, groups: list[dict[str, Any]]) -> list[Contact]:
        """Use the email index when every group pins the email (the lookup leadsync does)."""
        picked: dict[str, Contact] = {}
        for group in groups:
            emails = None
            for f in group.get("filters") or []:
                if str(f.get("propertyName", "")).lower() == "email":
                    if f.get("operator") == "EQ":
                        emails = [f.get("value")]
                    elif f.get("operator") == "IN":
                        emails = list(f.get("values") or [])
            if emails is None:
                return list(self.api.store.contacts_by_id.values())
            for e in emails:
                contact = self.api.store.contacts.get(str(e).strip().lower())
                if contact is not None:
                    picked[contact.id] = contact
        return list(picked.values()) if groups else list(self.api.store.contacts_by_id.values())

    def batch_read(self, req: Request) -> Response:
        started = iso_ms(self.api.store.now_ms())
        body = json_object(req)
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or not all(isinstance(i, dict) and "id" in i for i in inputs):
            raise Invalid("inputs must be a list of {\"id\": ...} objects")
        if len(inputs) > BATCH_READ_MAX:
            raise Invalid(f"Batch input limit exceeded: at most {BATCH_READ_MAX} inputs, got {len(inputs)}")
        id_property = (body.get("idProperty") or "hs_object_id").lower()
        if id_property not in ("hs_object_id", "email"):
            raise Invalid(f"idProperty {id_property!r} is not a unique property")
        properties = _requested(body.get("properties"))
        results, missing, seen = [], [], set()
        for item in inputs:
            key = str(item["id"]).strip()
            contact = (self.api.store.contacts.get(key.lower()) if id_property == "email"
                       else self.api.store.contacts_by_id.get(key))
            if contact is None:
                missing.append(key)
            elif contact.id not in seen:
                seen.add(contact.id)
                results.append(_contact_json(contact, properties))
        out: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                               "completedAt": iso_ms(self.api.store.now_ms())}
        if not missing:
            return Response.json(200, out)
        out["numErrors"] = 1
        out["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                          "message": "Could not get some CONTACT objects, they may be deleted or not exist. "
                                     "Check that ids are valid.",
                          "context": {"ids": missing}}]
        return Response.json(207, out)


# -- contact search helpers (pure functions over a Contact) ----------------------------------

def _requested(properties: Any) -> tuple[str, ...]:
    if not properties:
        return DEFAULT_CONTACT_PROPERTIES
    return tuple(str(p) for p in properties)


def _contact_json(contact: Contact, properties: tuple[str, ...]) -> dict[str, Any]:
    """A SimplePublicObject: requested properties (null when unset) plus the system ones."""
    have = contact.properties()
    props = {p: have.get(p.lower()) for p in properties}
    for p in ALWAYS_CONTACT_PROPERTIES:
        props[p] = have[p]
    return {"id": contact.id, "properties": props, "createdAt": have["createdate"],
            "updatedAt": have["lastmodifieddate"], "archived": False}


def _value(contact: Contact, name: str) -> Any:
    """A property as a comparable value: ms for dates, int for the id, lower-cased text otherwise."""
    name = name.lower()
    if name == "createdate":
        return contact.created_ms
    if name == "lastmodifieddate":
        return contact.updated_ms
    if name == "hs_object_id":
        return int(contact.id)
    if name in contact.written:
        return contact.written[name].lower()
    held = contact.props.get(name)
    if held is None:
        return None
    if name in DATE_PROPERTIES:
        return parse_ms(held[1])
    if name in NUMBER_PROPERTIES:
        return int(held[1])
    return held[1].lower()


def _operand(name: str, value: Any) -> Any:
    if name.lower() in DATE_PROPERTIES:
        try:
            return parse_ms(value)
        except ValueError:
            raise Invalid(f"{value!r} is not a valid date for {name}") from None
    if name.lower() == "hs_object_id" or name.lower() in NUMBER_PROPERTIES:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise Invalid(f"{value!r} is not a valid id") from None
    return "" if value is None else str(value).strip().lower()


def _filter_ok(contact: Contact, f: Mapping[str, Any]) -> bool:
    name, op = str(f.get("propertyName", "")), str(f.get("operator", "EQ")).upper()
    have = _value(contact, name)
    if op == "HAS_PROPERTY":
        return have not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return have in (None, "")
    if op in ("IN", "NOT_IN"):
        inside = have in {_operand(name, v) for v in f.get("values") or []}
        return inside if op == "IN" else not inside
    if op == "CONTAINS_TOKEN":
        return have is not None and str(_operand(name, f.get("value"))).strip("*") in str(have)
    if op == "BETWEEN":
        low, high = _operand(name, f.get("value")), _operand(name, f.get("highValue"))
        return have is not None and low <= have <= high
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "EQ": lambda a, b: a == b, "NEQ": lambda a, b: a != b, "LT": lambda a, b: a < b,
        "LTE": lambda a, b: a <= b, "GT": lambda a, b: a > b, "GTE": lambda a, b: a >= b}
    if op not in compare:
        raise Invalid(f"Unsupported operator {op!r}")
    want = _operand(name, f.get("value"))
    if have is None:
        return op == "NEQ"
    return compare[op](have, want)


def _matches(contact: Contact, groups: list[dict[str, Any]]) -> bool:
    """Groups are ORed, the filters inside a group ANDed; no groups matches everything."""
    return not groups or any(all(_filter_ok(contact, f) for f in g.get("filters") or []) for g in groups)


def _sort_key(sorts: list[Any]) -> Callable[[Contact], Any]:
    """The first sort, given as ``"-prop"``/``"prop"`` or ``{"propertyName", "direction"}``; id breaks ties."""
    if not sorts:
        return lambda c: int(c.id)
    first = sorts[0]
    if isinstance(first, dict):
        name = str(first.get("propertyName", "hs_object_id"))
        descending = str(first.get("direction", "ASCENDING")).upper().startswith("DESC")
    else:
        text = str(first)
        descending, name = text.startswith("-"), text.lstrip("-")
    sign = -1 if descending else 1

    def key(c: Contact) -> Any:
        v = _value(c, name)
        if v is None:
            return (1, 0, int(c.id))  # unset values sort last either way
        if isinstance(v, str):
            # Strings cannot be negated: sort descending by inverting code points.
            v = v if sign > 0 else (*(-ord(ch) for ch in v), 1)
            return (0, v, int(c.id))
        return (0, sign * v, int(c.id))
    return key
