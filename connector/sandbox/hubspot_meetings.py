"""HubSpot CRM v3 meetings in the sandbox: create with a contact association, read, search,
and the v4 associations batch read from meetings to contacts.

Shapes from HubSpot's public OpenAPI specs (HubSpot-public-api-spec-collection,
``PublicApiSpecs/CRM/Meetings/Rollouts/424/v3/meetings.json`` and
``PublicApiSpecs/CRM/Associations/Rollouts/130902/v4/associations.json``):

- ``POST /crm/v3/objects/meetings`` (SimplePublicObjectInputForCreate: ``properties`` and
  ``associations`` ``[{"to": {"id"}, "types": [{"associationCategory", "associationTypeId"}]}]``)
  -> 201 SimplePublicObject; ``GET /crm/v3/objects/meetings/{meetingId}``.
- ``PUT /crm/v4/objects/meetings/{meetingId}/associations/default/contacts/{contactId}``.
- ``POST /crm/v3/objects/meetings/search`` (PublicObjectSearchRequest): filters EQ, NEQ, GT,
  GTE, LT, LTE, IN, HAS_PROPERTY on any property (dates as epoch ms or ISO), at most 5 groups
  of 6 filters, sorts by one property, ``limit`` 1..200, ``after`` an offset; a page past
  the first 10,000 results is refused with a 400, as HubSpot's search does.
- ``POST /crm/v4/associations/meetings/contacts/batch/read`` -> results of ``{"from": {"id"},
  "to": [{"toObjectId", "associationTypes": [{"category", "typeId", "label"}]}]}``.

Every route counts against the portal's rate limiter. Registered from ``HubSpotApi.__init__``
with one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping

from .hubspot_requests import CONTACTS_READ, CONTACTS_WRITE
from .hubspot_requests import error_reply as _error, iso_ms as _iso
from .http import BadJson, Request, Response

SEARCH_MAX_LIMIT, SEARCH_RESULT_CAP = 200, 10_000
BATCH_MAX = 1000
MEETING_TO_CONTACT = 200          # HUBSPOT_DEFINED association type: meeting -> contact
FIRST_MEETING_ID = 76_000_001
DEFAULT_PROPERTIES = ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")
DATES = ("hs_createdate", "hs_lastmodifieddate", "hs_timestamp", "hs_meeting_start_time",
         "hs_meeting_end_time")




def _as_ms(value: Any) -> int | None:
    text = str(value or "").strip()
    if text.isdigit():
        return int(text)
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


@dataclass
class Meeting:
    id: str
    created_ms: int
    properties: dict[str, str]
    contacts: list[str] = field(default_factory=list)

    def props(self) -> dict[str, str]:
        return {**self.properties, "hs_createdate": _iso(self.created_ms),
                "hs_lastmodifieddate": _iso(self.created_ms), "hs_object_id": self.id}

    def json(self, wanted: tuple[str, ...]) -> dict[str, Any]:
        have = self.props()
        props = {p: have.get(p) for p in wanted}
        for p in DEFAULT_PROPERTIES:
            props[p] = have[p]
        return {"id": self.id, "properties": props, "createdAt": _iso(self.created_ms),
                "updatedAt": _iso(self.created_ms), "archived": False}


class _Invalid(Exception):
    pass


class Meetings:
    def __init__(self, api: Any) -> None:
        self.api = api
        self.meetings: dict[str, Meeting] = {}
        self._next_id = FIRST_MEETING_ID

    def clear(self) -> None:
        self.meetings.clear()

    def install(self) -> None:
        """The routes, each with the scopes HubSpot's public specs give it (CRM/Meetings v3:
        reads ``crm.objects.contacts.read``, writes ``.write``; CRM/Associations v4: any one
        of the objects' scopes, of which the sandbox models the contacts ones)."""
        add, scoped = self.api.app.router.add, self.api.scoped
        read, write = CONTACTS_READ, CONTACTS_WRITE
        for method, path, handler, scopes in (
                ("POST", "/crm/v3/objects/meetings", self._create, (write,)),
                ("POST", "/crm/v3/objects/meetings/search", self._search, (read,)),
                ("GET", "/crm/v3/objects/meetings/{meetingId}", self._get, (read,)),
                ("PUT", "/crm/v4/objects/meetings/{meetingId}/associations/default/contacts/"
                        "{contactId}", self._associate, (read, write)),
                ("POST", "/crm/v4/associations/meetings/contacts/batch/read", self._assoc_read,
                 (read, write))):
            add(method, path, scoped(self._guarded(handler), *scopes), family="hubspot.meetings",
                auth="hubspot", first=method == "POST" and path.endswith("/search"))
        self.api.parts.append(self)   # a reset empties the meetings; dump/load carry them

    # A dataset carries ``meetings`` (with their contact associations), so ``dump`` then
    # ``load`` gives the same portal. Called under the lock.
    def dump_into(self, out: dict[str, Any]) -> None:
        if self.meetings:
            out["meetings"] = [vars(m) for m in self.meetings.values()]

    def load_from(self, data: Mapping[str, Any]) -> None:
        for raw in data.get("meetings") or []:
            m = Meeting(str(raw["id"]), int(raw["created_ms"]), dict(raw["properties"]),
                        list(raw.get("contacts") or []))
            self.meetings[m.id] = m
            self._next_id = max(self._next_id, int(m.id) + 1)

    @staticmethod
    def _guarded(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def run(req: Request) -> Response:
            try:
                return handler(req)
            except _Invalid as exc:
                return _error(400, str(exc), "VALIDATION_ERROR")
        run.__name__ = handler.__name__
        return run

    # -- handlers --------------------------------------------------------------------------
    def _create(self, req: Request) -> Response:
        body = _body(req)
        props = body.get("properties")
        if not isinstance(props, dict):
            raise _Invalid("properties is required")
        contacts = []
        for assoc in body.get("associations") or []:
            to = str(((assoc or {}).get("to") or {}).get("id") or "")
            types = (assoc or {}).get("types") or []
            if not to or not types:
                raise _Invalid("each association needs to.id and types")
            if to not in self.api.store.contacts_by_id:
                raise _Invalid(f"No contact with id {to} exists to associate")
            contacts.append(to)
        meeting_id = str(self._next_id)
        self._next_id += 1
        meeting = Meeting(meeting_id, int(self.api.clock() * 1000),
                          {str(k): "" if v is None else str(v) for k, v in props.items()}, contacts)
        self.meetings[meeting_id] = meeting
        return Response.json(201, meeting.json(tuple(meeting.properties)))

    def _get(self, req: Request) -> Response:
        meeting = self.meetings.get(req.params["meetingId"])
        if meeting is None:
            return _error(404, "Object not found. objectId are usually numeric.", "OBJECT_NOT_FOUND")
        wanted = tuple(p for p in (req.arg("properties") or "").split(",") if p)
        return Response.json(200, meeting.json(wanted))

    def _associate(self, req: Request) -> Response:
        meeting = self.meetings.get(req.params["meetingId"])
        contact = req.params["contactId"]
        if meeting is None or contact not in self.api.store.contacts_by_id:
            return _error(404, "Object not found", "OBJECT_NOT_FOUND")
        if contact not in meeting.contacts:
            meeting.contacts.append(contact)
        return Response.json(200, {"status": "COMPLETE", "results": [{
            "from": {"id": meeting.id}, "to": {"id": contact},
            "associationSpec": {"associationCategory": "HUBSPOT_DEFINED",
                                "associationTypeId": MEETING_TO_CONTACT}}],
            "startedAt": _iso(int(self.api.clock() * 1000)),
            "completedAt": _iso(int(self.api.clock() * 1000))})

    def _search(self, req: Request) -> Response:
        body = _body(req)
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit <= SEARCH_MAX_LIMIT:
            raise _Invalid(f"limit must be between 1 and {SEARCH_MAX_LIMIT}, got {limit!r}")
        after = str(body.get("after") or "0")
        if not after.isdigit():
            raise _Invalid(f"Invalid 'after': {after!r}")
        offset = int(after)
        if offset + limit > SEARCH_RESULT_CAP:
            raise _Invalid(f"Search can only page through the first {SEARCH_RESULT_CAP} results; "
                           f"after={offset} with limit={limit} is past that limit")
        groups = body.get("filterGroups") or []
        if not isinstance(groups, list) or len(groups) > 5 or any(
                not isinstance(g, dict) or len(g.get("filters") or []) > 6 for g in groups):
            raise _Invalid("At most 5 filterGroups with at most 6 filters each are allowed")
        found = [m for m in self.meetings.values()
                 if not groups or any(all(_holds(m, f) for f in g.get("filters") or [])
                                      for g in groups)]
        found.sort(key=_sort_key(body.get("sorts") or []))
        page = found[offset:offset + limit]
        wanted = tuple(str(p) for p in body.get("properties") or ())
        out: dict[str, Any] = {"total": len(found), "results": [m.json(wanted) for m in page]}
        if offset + limit < len(found):
            out["paging"] = {"next": {"after": str(offset + limit), "link": f"?after={offset + limit}"}}
        return Response.json(200, out)

    def _assoc_read(self, req: Request) -> Response:
        body = _body(req)
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or not all(isinstance(i, dict) and "id" in i for i in inputs):
            raise _Invalid("inputs must be a list of {\"id\": ...} objects")
        if len(inputs) > BATCH_MAX:
            raise _Invalid(f"Batch input limit exceeded: at most {BATCH_MAX} inputs")
        started = _iso(int(self.api.clock() * 1000))
        results = []
        for item in inputs:
            meeting = self.meetings.get(str(item["id"]))
            if meeting is None or not meeting.contacts:
                continue
            results.append({"from": {"id": meeting.id}, "to": [
                {"toObjectId": c, "associationTypes": [
                    {"category": "HUBSPOT_DEFINED", "typeId": MEETING_TO_CONTACT, "label": None}]}
                for c in meeting.contacts]})
        return Response.json(200, {"status": "COMPLETE", "results": results, "startedAt": started,
                                   "completedAt": _iso(int(self.api.clock() * 1000))})


def install(api: Any) -> Meetings:
    """Add the routes to the HubSpot half; the one line ``HubSpotApi.__init__`` calls."""
    meetings = Meetings(api)
    meetings.install()
    api.crm_meetings = meetings
    return meetings


def _body(req: Request) -> dict[str, Any]:
    try:
        body = req.json()
    except BadJson as exc:
        raise _Invalid(f"Invalid input JSON: {exc}") from None
    if not isinstance(body, dict):
        raise _Invalid("The request body must be a JSON object")
    return body


def _value(meeting: Meeting, name: str) -> Any:
    raw = meeting.props().get(name)
    if raw is None:
        return None
    if name in DATES:
        return _as_ms(raw)
    if name == "hs_object_id":
        return int(raw)
    return str(raw).lower()


def _operand(name: str, value: Any) -> Any:
    if name in DATES:
        return _as_ms(value)
    if name == "hs_object_id":
        return int(str(value)) if str(value).isdigit() else None
    return str(value).lower()


def _holds(meeting: Meeting, f: dict[str, Any]) -> bool:
    name = str(f.get("propertyName") or "").lower()
    op = str(f.get("operator") or "EQ").upper()
    have = _value(meeting, name)
    if op == "HAS_PROPERTY":
        return have is not None
    if op == "NOT_HAS_PROPERTY":
        return have is None
    if op in ("IN", "NOT_IN"):
        values = {_operand(name, v) for v in f.get("values") or []}
        return (have in values) == (op == "IN")
    want = _operand(name, f.get("value"))
    if have is None or want is None:
        return op == "NEQ"
    return {"EQ": have == want, "NEQ": have != want, "GT": have > want, "GTE": have >= want,
            "LT": have < want, "LTE": have <= want}.get(op, False)


def _sort_key(sorts: list[Any]) -> Callable[[Meeting], Any]:
    name, descending = "hs_object_id", False
    if sorts:
        first = sorts[0]
        if isinstance(first, dict):
            name = str(first.get("propertyName") or name)
            descending = str(first.get("direction") or "").upper() == "DESCENDING"
        else:
            text = str(first)
            name, descending = text.lstrip("-"), text.startswith("-")

    def key(m: Meeting) -> Any:
        v = _value(m, name)
        rank = (v is None, v if v is not None else 0)
        if descending and isinstance(rank[1], int):
            return (rank[0], -rank[1], -int(m.id))
        return (rank, int(m.id))
    return key
