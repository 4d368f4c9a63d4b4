"""HubSpot Marketing Events v3 in the sandbox: events, participants by email, participations.

Kept as HubSpot's public OpenAPI spec (Marketing Events v3, HubSpot-public-api-spec-collection
``PublicApiSpecs/Marketing/Marketing Events/Rollouts/129888/v3/marketingEvents.json``) has them,
so scripts drive it as they would drive HubSpot, through hubspot-api-client or plain requests:

- ``POST /marketing/v3/marketing-events/events``: create (MarketingEventCreateRequestParams);
  the reply (MarketingEventDefaultResponse) carries ``objectId``, the id ``event_id`` takes.
- ``GET`` / ``PATCH /marketing/v3/marketing-events/{objectId}``: read, update (e.g. its
  ``endDateTime``: once past, registered contacts who neither attended nor cancelled read as
  ``NO_SHOW``, at the end time; HubSpot derives no-shows, there is no "no_show" recording).
- ``POST /marketing/v3/marketing-events/{objectId}/attendance/{register|attend|cancel}/email-create``:
  participants by email, each with ``interactionDateTime`` (epoch ms); a missing contact is
  created (``contactProperties`` used only then); BatchResponseSubscriberEmailResponse back.
- ``GET /marketing/v3/marketing-events/participations/{objectId}/breakdown``: the event's
  participations (CollectionResponseWithTotalParticipationBreakdown), ``limit`` 1..100
  (default 10), ``after`` cursor, ``state`` and ``contactIdentifier`` filters.

One participation row per contact and state (the spec does not say whether HubSpot keeps one
row per contact or one per state; leadsync reads either way). Every route counts against the
portal's rate limiter. Registered from ``HubSpotApi.__init__`` with one line.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from .hubspot_requests import error_reply as _error, iso_ms as _iso
from .http import BadJson, Request, Response

STATES = {"register": "REGISTERED", "attend": "ATTENDED", "cancel": "CANCELLED"}
BREAKDOWN_DEFAULT_LIMIT, BREAKDOWN_MAX_LIMIT = 10, 100
CREATE_REQUIRED = ("customProperties", "eventName", "eventOrganizer", "externalAccountId",
                   "externalEventId")
FIRST_EVENT_ID = 580_000_001
READ, WRITE = "crm.objects.marketing_events.read", "crm.objects.marketing_events.write"




def _ms(text: Any) -> int | None:
    if not text:
        return None
    try:
        return int(datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


@dataclass
class Participation:
    id: str
    contact_id: str
    state: str
    occurred_at: int
    created_at: int


@dataclass
class MarketingEvent:
    object_id: str
    body: dict[str, Any]
    participations: dict[tuple[str, str], Participation] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.body.items() if k not in ("externalAccountId",)}
        out.setdefault("customProperties", [])
        out.setdefault("eventCancelled", False)
        out.setdefault("eventCompleted", False)
        return {**out, "objectId": self.object_id}


class MarketingEvents:
    """The portal's marketing events; ``api`` is the HubSpot half (store, lock, limiter)."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.events: dict[str, MarketingEvent] = {}
        self._next_id = FIRST_EVENT_ID
        self._seq = 0

    def clear(self) -> None:
        self.events.clear()

    # -- routes ----------------------------------------------------------------------------
    def install(self) -> None:
        add, api = self.api.app.router.add, self.api

        def limited(handler: Any, scope: str) -> Any:
            """HubSpot's marketing events guide: ``crm.objects.marketing_events.read`` to read
            events and attendance, ``.write`` to change them (``HubSpotApi.scoped``)."""
            return api.scoped(handler, scope)

        base = "/marketing/v3/marketing-events"
        add("POST", f"{base}/events", limited(self._create, WRITE), family="hubspot.events",
            auth="hubspot")
        add("GET", f"{base}/participations/{{objectId}}/breakdown",
            limited(self._breakdown, READ), family="hubspot.events", auth="hubspot")
        add("POST", f"{base}/{{objectId}}/attendance/{{state}}/email-create",
            limited(self._email_create, WRITE), family="hubspot.events", auth="hubspot")
        add("GET", f"{base}/{{objectId}}", limited(self._get, READ), family="hubspot.events",
            auth="hubspot")
        add("PATCH", f"{base}/{{objectId}}", limited(self._patch, WRITE),
            family="hubspot.events", auth="hubspot")
        self.api.parts.append(self)             # a reset empties the events; dump/load carry them

    # -- the dataset (``sandbox dump``/``load``): the events and their participations --------
    # A dataset carries ``marketing_events``, so a rehearsal saved with ``dump`` comes back
    # with its webinars (the contacts they name are the dataset's own). Called under the lock.
    def dump_into(self, out: dict[str, Any]) -> None:
        if self.events:
            out["marketing_events"] = [
                {"objectId": e.object_id, "body": e.body,
                 "participations": [vars(p) for p in e.participations.values()],
                 "contacts": self._contacts_of(e)}
                for e in self.events.values()]

    def load_from(self, data: Mapping[str, Any]) -> None:
        for item in data.get("marketing_events") or []:
            self._restore_contacts(item.get("contacts") or [])
            event = MarketingEvent(str(item["objectId"]), dict(item.get("body") or {}))
            for raw in item.get("participations") or []:
                p = Participation(**{k: raw[k] for k in (
                    "id", "contact_id", "state", "occurred_at", "created_at")})
                event.participations[(p.contact_id, p.state)] = p
                self._seq = max(self._seq, int(p.id))
            self.events[event.object_id] = event
            self._next_id = max(self._next_id, int(event.object_id) + 1)

    def _contacts_of(self, event: MarketingEvent) -> list[dict[str, Any]]:
        """The participants' contacts (an event creates contacts no form submission holds)."""
        ids = {p.contact_id for p in event.participations.values()}
        return [{"id": c.id, "email": email, "created_ms": c.created_ms,
                 "properties": {k: v for k, (_, v) in c.props.items()}}
                for email, c in self.api.store.contacts.items() if c.id in ids]

    def _restore_contacts(self, contacts: list[dict[str, Any]]) -> None:
        store = self.api.store
        for raw in contacts:
            email = str(raw["email"]).lower()
            if email in store.contacts:
                continue              # a form submission of the dataset made it already
            store._reserved_ids[email] = str(raw["id"])
            contact = store._new_contact(email, int(raw["created_ms"]))
            store._reserved_ids.pop(email, None)
            store._seq += 1
            key = (int(raw["created_ms"]), store._seq)
            for name, value in dict(raw.get("properties") or {}).items():
                contact.props[str(name)] = (key, str(value))

    # -- handlers (the limiter holds the app lock) ---------------------------------------
    def _create(self, req: Request) -> Response:
        body = _body(req)
        if body is None:
            return _error(400, "Invalid input JSON", "VALIDATION_ERROR")
        missing = [k for k in CREATE_REQUIRED if k not in body]
        if missing:
            return _error(400, f"Missing required fields: {', '.join(missing)}", "VALIDATION_ERROR")
        object_id = str(self._next_id)
        self._next_id += 1
        event = MarketingEvent(object_id, dict(body))
        self.events[object_id] = event
        return Response.json(200, event.json())

    def _get(self, req: Request) -> Response:
        event = self.events.get(req.params["objectId"])
        if event is None:
            return self._missing(req.params["objectId"])
        now = self._now()
        return Response.json(200, {**event.json(), "id": event.object_id,
                                   "createdAt": _iso(now), "updatedAt": _iso(now)})

    def _patch(self, req: Request) -> Response:
        event = self.events.get(req.params["objectId"])
        if event is None:
            return self._missing(req.params["objectId"])
        body = _body(req)
        if body is None:
            return _error(400, "Invalid input JSON", "VALIDATION_ERROR")
        event.body.update({k: v for k, v in body.items() if k != "objectId"})
        return Response.json(200, event.json())

    def _email_create(self, req: Request) -> Response:
        started = self._now()
        event = self.events.get(req.params["objectId"])
        if event is None:
            return self._missing(req.params["objectId"])
        state = STATES.get(req.params["state"])
        if state is None:
            return _error(400, f"Invalid subscriberState {req.params['state']!r}: it may be "
                               "'register', 'attend' or 'cancel'", "VALIDATION_ERROR")
        body = _body(req)
        inputs = body.get("inputs") if body is not None else None
        if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
            return _error(400, "inputs must be a list of MarketingEventEmailSubscriber",
                          "VALIDATION_ERROR")
        results = []
        for item in inputs:
            email = str(item.get("email") or "").strip().lower()
            at = item.get("interactionDateTime")
            if not email or "@" not in email or not isinstance(at, int) or isinstance(at, bool):
                return _error(400, "each input needs an email and interactionDateTime (epoch ms)",
                              "VALIDATION_ERROR")
            contact = self._contact(email, at, item.get("contactProperties") or {})
            key = (contact.id, state)
            held = event.participations.get(key)
            if held is None:
                self._seq += 1
                event.participations[key] = Participation(
                    str(self._seq), contact.id, state, at, self._now())
            else:
                held.occurred_at = at
            results.append({"email": email, "vid": int(contact.id)})
        return Response.json(200, {"status": "COMPLETE", "results": results,
                                   "startedAt": _iso(started), "completedAt": _iso(self._now())})

    def _breakdown(self, req: Request) -> Response:
        event = self.events.get(req.params["objectId"])
        if event is None:
            return self._missing(req.params["objectId"])
        raw_limit = req.arg("limit") or str(BREAKDOWN_DEFAULT_LIMIT)
        if not raw_limit.isdigit() or not 0 < int(raw_limit) <= BREAKDOWN_MAX_LIMIT:
            return _error(400, f"limit must be between 1 and {BREAKDOWN_MAX_LIMIT}",
                          "VALIDATION_ERROR")
        limit = int(raw_limit)
        offset = _decode(req.arg("after"))
        if offset is None:
            return _error(400, f"Invalid 'after': {req.arg('after')!r}", "VALIDATION_ERROR")
        rows = self._rows(event)
        state = (req.arg("state") or "").upper()
        if state:
            rows = [r for r in rows if r["properties"]["attendanceState"] == state]
        who = (req.arg("contactIdentifier") or "").strip().lower()
        if who:
            rows = [r for r in rows if who in (r["associations"]["contact"]["contactId"],
                                               r["associations"]["contact"]["email"])]
        page = rows[offset:offset + limit]
        out: dict[str, Any] = {"total": len(rows), "results": page}
        if offset + limit < len(rows):
            token = _encode(offset + limit)
            out["paging"] = {"next": {"after": token, "link": f"?after={token}"}}
        return Response.json(200, out)

    # -- state -----------------------------------------------------------------------------
    def _rows(self, event: MarketingEvent) -> list[dict[str, Any]]:
        parts = list(event.participations.values())
        end = _ms(event.body.get("endDateTime"))
        if end is not None and end <= self._now():   # past: the silent registrants are no-shows
            states: dict[str, set[str]] = {}
            for p in parts:
                states.setdefault(p.contact_id, set()).add(p.state)
            for contact_id, held in states.items():
                if held == {"REGISTERED"}:
                    parts.append(Participation(f"ns-{contact_id}", contact_id, "NO_SHOW", end, end))
        parts.sort(key=lambda p: (p.created_at, p.id))
        return [self._row(event, p) for p in parts]

    def _row(self, event: MarketingEvent, p: Participation) -> dict[str, Any]:
        contact = self.api.store.contacts_by_id.get(p.contact_id)
        props = contact.properties() if contact is not None else {}
        person = {"contactId": p.contact_id, "email": props.get("email", "")}
        for name in ("firstname", "lastname"):
            if props.get(name):
                person[name] = props[name]
        return {"id": p.id, "createdAt": _iso(p.created_at),
                "associations": {"contact": person, "marketingEvent": {
                    "marketingEventId": event.object_id,
                    "name": str(event.body.get("eventName") or ""),
                    "externalEventId": str(event.body.get("externalEventId") or ""),
                    "externalAccountId": str(event.body.get("externalAccountId") or "")}},
                "properties": {"attendanceState": p.state, "occurredAt": p.occurred_at}}

    def _contact(self, email: str, at: int, properties: dict[str, Any]) -> Any:
        store = self.api.store
        contact = store.contacts.get(email)
        if contact is None:
            contact = store._new_contact(email, at)
            store._seq += 1
            key = (at, store._seq)
            contact.props["email"] = (key, email)
            for name, value in properties.items():
                if name.lower() != "email" and value is not None:
                    contact.props[name.lower()] = (key, str(value))
        return contact

    def _missing(self, object_id: str) -> Response:
        return _error(404, f"Marketing event {object_id} does not exist", "OBJECT_NOT_FOUND")

    def _now(self) -> int:
        return int(self.api.clock() * 1000) if self.api.clock else int(time.time() * 1000)


def install(api: Any) -> MarketingEvents:
    """Add the routes to the HubSpot half; the one line ``HubSpotApi.__init__`` calls."""
    events = MarketingEvents(api)
    events.install()
    api.marketing_events = events
    return events


def _body(req: Request) -> dict[str, Any] | None:
    try:
        body = req.json()
    except BadJson:
        return None
    return body if isinstance(body, dict) else None


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"p{offset}".encode()).decode().rstrip("=")


def _decode(token: str | None) -> int | None:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return int(text[1:]) if text.startswith("p") and text[1:].isdigit() else None
