"""HubSpot marketing events: each configured event's participations, as responses.

Read through Marketing Events v3 by the event's objectId (the id its create returns and
``event_id`` takes): ``GET /marketing/v3/marketing-events/participations/{objectId}/breakdown``
pages the event's participations by ``after`` (``limit`` at most 100), each with its
contact (id, email, names), its ``attendanceState`` (REGISTERED, CANCELLED, ATTENDED,
NO_SHOW; EMPTY is no participation) and ``occurredAt`` (epoch ms). The API has no "since"
filter, so every page is read and cut at the event's watermark, as forms are; the ledger
drops what it holds.

A participation state is one response: its key is the event, the contact and the state
(``ev-<objectId>-<contactId>-<state>``), so a registration and the attendance after it are
two responses recorded once each, whatever order they are synced in, and the status they
give the membership only moves forward (``connector.core.progression``). The contact's
properties that the mapping reads (the registration form's answers, as HubSpot keeps them on
the contact) are read in one batch call a page (``contact_answers.contact_values``).
"""

from __future__ import annotations

from typing import Any, Generator, Mapping, Sequence

from connector.adapters.hubspot.contact_answers import Caller, contact_values
from connector.config.sources import EVENT_PREFIX
from connector.core.model import Submission
from connector.core.timefmt import parse_ms
from connector.errors import ApiError

PAGE_LIMIT = 100
IN_BREAKDOWN = {"email", "firstname", "lastname"}   # a mapping reading no more needs no contact read
STATES = {"REGISTERED": "registered", "ATTENDED": "attended", "NO_SHOW": "no_show",
          "CANCELLED": "cancelled"}


class EventsSource:
    """The ``event:<objectId>`` streams; HubSpot calls go through the shared client."""

    def __init__(self, client: Caller, *, fields: Sequence[str] = (), email_field: str = "email"
                 ) -> None:
        self.client = client
        self.fields = tuple(fields)
        self.email_field = email_field
        self.missing: set[str] = set()   # streams the last pages_many found 404 (no such event)
        # streams the last pages_many could not read: the token's app lacks the scope (why)
        self.unreadable: dict[str, str] = {}

    def pages_many(self, since_by_stream: Mapping[str, int]
                   ) -> Generator[list[Submission], None, None]:
        """Each event's participations in turn. An event HubSpot answers 404 for (deleted,
        or a wrong ``event_id``) ends its own stream and is listed in ``missing``; one it
        answers 403 MISSING_SCOPES for (the private app lacks the marketing events scope), in
        ``unreadable``: the engine pauses each alone, as a form HubSpot does not have, and the
        forms go on."""
        self.missing, self.unreadable = set(), {}
        for stream, since in since_by_stream.items():
            try:
                yield from self.pages(stream, since)
            except ApiError as exc:
                if exc.code == "MISSING_SCOPES":     # the app lacks the events scope
                    self.unreadable[stream] = exc.message
                elif exc.status == 404:
                    self.missing.add(stream)
                else:
                    raise

    def pages(self, stream: str, since_ms: int) -> Generator[list[Submission], None, None]:
        """One event's participations with ``occurredAt >= since_ms``, page by page."""
        object_id = stream[len(EVENT_PREFIX):]
        after: str | None = None
        while True:
            qs: dict[str, Any] = {"limit": PAGE_LIMIT, **({"after": after} if after else {})}
            page = self.client.request(
                "GET", f"/marketing/v3/marketing-events/participations/{object_id}/breakdown", qs)
            rows = [r for r in page.get("results") or [] if isinstance(r, dict)]
            kept = [r for r in rows if _state(r) and _occurred(r) >= since_ms]
            if kept:
                contacts = (contact_values(self.client, (str(_contact(r).get("contactId") or "")
                                                         for r in kept), self.fields)
                            if set(self.fields) - IN_BREAKDOWN else {})
                yield [self.to_submission(stream, object_id, r, contacts) for r in kept]
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after or not rows:
                return

    def to_submission(self, stream: str, object_id: str, row: Mapping[str, Any],
                      contacts: Mapping[str, Mapping[str, str]]) -> Submission:
        contact = _contact(row)
        contact_id = str(contact.get("contactId") or "")
        values = {k: v for k, v in (("firstname", contact.get("firstname")),
                                    ("lastname", contact.get("lastname"))) if v}
        values.update(contacts.get(contact_id, {}))
        values[self.email_field] = str(contact.get("email") or values.get("email") or "")
        state = _state(row)
        key = f"ev-{object_id}-{contact_id or row.get('id')}-{state}"
        return Submission(key, stream, _occurred(row), values, None, state)

    def form_names(self, streams: Sequence[str] = ()) -> dict[str, str]:
        """Stream -> the event's name (a Task names "Webinar: Q3 launch", not an id)."""
        names: dict[str, str] = {}
        for stream in streams:
            object_id = stream[len(EVENT_PREFIX):]
            event = self.client.request("GET", f"/marketing/v3/marketing-events/{object_id}")
            names[stream] = str(event.get("eventName") or stream)
        return names


def _contact(row: Mapping[str, Any]) -> Mapping[str, Any]:
    return (row.get("associations") or {}).get("contact") or {}


def _state(row: Mapping[str, Any]) -> str:
    return STATES.get(str((row.get("properties") or {}).get("attendanceState") or "").upper(), "")


def _occurred(row: Mapping[str, Any]) -> int:
    at = (row.get("properties") or {}).get("occurredAt")
    try:
        return int(str(at))
    except (TypeError, ValueError):
        return parse_ms(str(row.get("createdAt") or "")) or 0
