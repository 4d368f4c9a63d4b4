"""The conversion properties HubSpot keeps on a contact when one of its forms is submitted.

HubSpot's default contact properties (knowledge base, "HubSpot's default contact
properties", Conversion information): ``first_conversion_date`` and
``first_conversion_event_name`` (the first form the contact submitted, and when),
``recent_conversion_date`` and ``recent_conversion_event_name`` (the latest),
``num_conversion_events`` (form submissions) and ``num_unique_conversion_events`` (distinct
forms). The event name is the form's name (HubSpot prefixes the page's title when the form
sat on a page: "Pricing: Demo request"; the sandbox's submissions carry no page title).

A submission that arrives late (an older ``submittedAt``) is the first conversion if it is
the oldest, and never the recent one unless it is the newest, as the dates say.
"""

from __future__ import annotations

from typing import Any

CONVERSION_DATES = ("recent_conversion_date", "first_conversion_date")
CONVERSION_COUNTS = ("num_conversion_events", "num_unique_conversion_events")


def record_conversion(contact: Any, key: tuple[int, int], form_id: str, form_name: str,
                      *, iso: str) -> None:
    """Update ``contact.props`` (name -> (key, text)) for one submission of ``form_id``."""
    props = contact.props
    recent = props.get("recent_conversion_date")
    if recent is None or key >= recent[0]:
        props["recent_conversion_date"] = (key, iso)
        props["recent_conversion_event_name"] = (key, form_name)
    first = props.get("first_conversion_date")
    if first is None or key <= first[0]:
        props["first_conversion_date"] = (key, iso)
        props["first_conversion_event_name"] = (key, form_name)
    contact.forms_submitted.add(form_id)
    count = int(props.get("num_conversion_events", (key, "0"))[1]) + 1
    props["num_conversion_events"] = (key, str(count))
    props["num_unique_conversion_events"] = (key, str(len(contact.forms_submitted)))
