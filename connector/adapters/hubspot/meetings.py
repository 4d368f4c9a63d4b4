"""HubSpot meetings booked, as responses: CRM v3 meetings created since the watermark.

``POST /crm/v3/objects/meetings/search`` filters ``hs_createdate >= since`` and pages by
``after`` (``limit`` at most 200). HubSpot's search stops at 10,000 results a query (a 400
past it), so the search is sorted by ``hs_object_id`` ascending and, before a page would
cross the cap, restarted with ``hs_object_id > <the last id read>``: ids are unique, so
nothing is skipped or read twice (create dates are not unique, so they cannot be the
restart point). Each page's contacts come from the v4 associations batch read
(``POST /crm/v4/associations/meetings/contacts/batch/read``) and their emails and the
mapping's properties from the contacts batch read; a meeting with no contact has no person
and is left out. A meeting is one response, keyed ``mtg-<meeting id>``, on the ``meetings``
stream; it is sales-ready by default (``engine.streams.routing_of``).
"""

from __future__ import annotations

from typing import Any, Generator, Mapping, Sequence

from connector.adapters.hubspot.contact_answers import Caller, contact_values
from connector.core.model import Submission
from connector.core.timefmt import parse_ms
from connector.errors import AuthError

PAGE_LIMIT = 200
RESULT_CAP = 10_000
PROPERTIES = ("hs_createdate", "hs_meeting_title", "hs_object_id", "hs_meeting_start_time")


class MeetingsSource:
    def __init__(self, client: Caller, *, fields: Sequence[str] = (), email_field: str = "email",
                 page_limit: int = PAGE_LIMIT, result_cap: int = RESULT_CAP) -> None:
        self.client = client
        self.fields = tuple(fields)
        self.email_field = email_field
        self.page_limit = page_limit
        self.result_cap = result_cap
        # streams the last pages_many could not read: the app lacks the scope (why)
        self.unreadable: dict[str, str] = {}

    def pages_many(self, since_by_stream: Mapping[str, int]
                   ) -> Generator[list[Submission], None, None]:
        """The meetings stream. A private app without the scope the meetings search needs
        (HubSpot 403 ``MISSING_SCOPES``, the scope named in its reply) pauses this stream
        alone (``unreadable``), as an event's does; the forms go on."""
        self.unreadable = {}
        for stream, since in since_by_stream.items():
            try:
                yield from self.pages(stream, since)
            except AuthError as exc:
                if exc.code != "MISSING_SCOPES":
                    raise
                self.unreadable[stream] = exc.message

    def pages(self, stream: str, since_ms: int) -> Generator[list[Submission], None, None]:
        last_id: str | None = None
        while True:                           # one query of at most result_cap results
            read, after, past = 0, None, last_id
            while True:
                page = self.client.request("POST", "/crm/v3/objects/meetings/search",
                                           payload=self._query(since_ms, past, after))
                rows = [r for r in page.get("results") or [] if isinstance(r, dict)]
                if rows:
                    last_id = str(rows[-1].get("id"))
                    subs = self._submissions(stream, rows)
                    if subs:
                        yield subs
                read += len(rows)
                after = ((page.get("paging") or {}).get("next") or {}).get("after")
                if not after or not rows:
                    return
                if read + self.page_limit > self.result_cap:
                    break                     # the next page would cross the cap: restart

    def _query(self, since_ms: int, last_id: str | None, after: str | None) -> dict[str, Any]:
        filters = [{"propertyName": "hs_createdate", "operator": "GTE", "value": str(since_ms)}]
        if last_id is not None:
            filters.append({"propertyName": "hs_object_id", "operator": "GT", "value": last_id})
        body: dict[str, Any] = {
            "filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": list(PROPERTIES), "limit": self.page_limit}
        if after:
            body["after"] = after
        return body

    def _submissions(self, stream: str, rows: Sequence[Mapping[str, Any]]) -> list[Submission]:
        ids = [str(r.get("id")) for r in rows]
        reply = self.client.request("POST", "/crm/v4/associations/meetings/contacts/batch/read",
                                    payload={"inputs": [{"id": i} for i in ids]})
        contact_of: dict[str, str] = {}
        for item in reply.get("results") or []:
            to = [str(t.get("toObjectId")) for t in item.get("to") or [] if t.get("toObjectId")]
            if to:
                contact_of[str((item.get("from") or {}).get("id"))] = min(to, key=_numeric)
        contacts = contact_values(self.client, contact_of.values(), self.fields)
        out = []
        for row in rows:
            values = dict(contacts.get(contact_of.get(str(row.get("id")), ""), {}))
            if not values.get("email"):
                continue
            values[self.email_field] = values["email"]
            props = row.get("properties") or {}
            created = _ms(props.get("hs_createdate")) or parse_ms(row.get("createdAt")) or 0
            out.append(Submission(f"mtg-{row.get('id')}", stream, created, values, None, "meeting"))
        return out

    def form_names(self, streams: Sequence[str] = ()) -> dict[str, str]:
        return {stream: "Meeting booked" for stream in streams}


def _ms(value: Any) -> int | None:
    """hs_createdate as HubSpot returns it: ISO text (or, from some endpoints, epoch ms)."""
    if value is None:
        return None
    text = str(value)
    return int(text) if text.isdigit() else parse_ms(text)


def _numeric(text: str) -> tuple[int, str]:
    return (int(text), text) if text.isdigit() else (1 << 62, text)
