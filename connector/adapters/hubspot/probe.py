"""The conversion probe: one HubSpot call per cycle saying which contacts converted lately.

HubSpot's v1 submissions feed has no "since" question, so checking a form for news costs a
call per form. The CRM v3 contacts search can ask across every form at once: contacts whose
``recent_conversion_date`` (the date of their latest form submission, a default contact
property) is after the last probe, sorted ascending on it and paged by ``after``, up to 200
a page and 10,000 results in all (HubSpot's search guide). Each result's
``recent_conversion_event_name`` (and, for a new contact, ``first_conversion_*``) names the
form, which ``connector.core.freshness`` resolves to form ids and turns into the cycle's plan.

The probe pages at most ``PROBE_MAX_PAGES``; a busier window is answered "incomplete" and
the cycle sweeps every form instead (cheaper than thousands of search pages, and exact).
"""

from __future__ import annotations

from typing import Any

from connector.adapters.hubspot.forms import HubSpotClient
from connector.core.freshness import PROBE_MAX_PAGES, Conversion, ProbeResult

SEARCH_PATH = "/crm/v3/objects/contacts/search"
SEARCH_PAGE = 200          # the search's largest page
SEARCH_CAP = 10_000        # HubSpot pages no search past its 10,000th result
PROPERTIES = ("recent_conversion_date", "recent_conversion_event_name",
              "first_conversion_date", "first_conversion_event_name")


class ConversionProbe:
    """Asks HubSpot's contacts search which contacts converted after a point in time."""

    def __init__(self, client: HubSpotClient, *, max_pages: int = PROBE_MAX_PAGES) -> None:
        self.client = client
        self.max_pages = max_pages

    def probe(self, since_ms: int) -> ProbeResult:
        """Contacts with ``recent_conversion_date > since_ms``, oldest conversion first."""
        conversions: list[Conversion] = []
        after: str | None = None
        for _ in range(self.max_pages):
            page = self.client.post(SEARCH_PATH, search_body(since_ms, after))
            for item in page.get("results") or []:
                conv = to_conversion(item)
                if conv is not None:
                    conversions.append(conv)
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return ProbeResult(tuple(conversions), complete=True)
            if after.isdigit() and int(after) >= SEARCH_CAP:
                break
        return ProbeResult(tuple(conversions), complete=False)


def search_body(since_ms: int, after: str | None = None) -> dict[str, Any]:
    """The search request: dates are compared as epoch milliseconds (HubSpot's search guide)."""
    body: dict[str, Any] = {
        "filterGroups": [{"filters": [{"propertyName": "recent_conversion_date",
                                       "operator": "GT", "value": str(since_ms)}]}],
        "sorts": [{"propertyName": "recent_conversion_date", "direction": "ASCENDING"}],
        "properties": list(PROPERTIES),
        "limit": SEARCH_PAGE,
    }
    if after:
        body["after"] = after
    return body


def to_conversion(item: dict[str, Any]) -> Conversion | None:
    """A search result -> Conversion; None for a result without a readable conversion date."""
    props = item.get("properties") or {}
    recent = _ms(props.get("recent_conversion_date"))
    if recent is None or not item.get("id"):
        return None
    return Conversion(contact_id=str(item["id"]), recent_ms=recent,
                      recent_name=str(props.get("recent_conversion_event_name") or ""),
                      first_ms=_ms(props.get("first_conversion_date")),
                      first_name=props.get("first_conversion_event_name") or None)


def _ms(value: Any) -> int | None:
    """A date property as epoch ms: HubSpot's search answers ISO 8601 text (or ms digits)."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    from datetime import datetime

    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None
