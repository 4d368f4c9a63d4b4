"""The HubSpot half of the sandbox: the endpoints leadsync calls, with HubSpot's wire shapes.

Endpoints (``docs`` in api-notes section B): account details, forms v3 (list, create, get),
the public v3 form submit, the legacy v1 submissions feed (newest first, opaque cursor), and
a small contacts search / batch read over contacts derived from the submissions.

Every authenticated call passes through one rolling-window limiter (``hubspot_ratelimit``)
that stamps the ``X-HubSpot-RateLimit-*`` headers and answers 429 past the configured rate;
the public submit endpoint is not limited, so demos and load tests can seed freely.
State lives in ``hubspot_store``; handlers hold the app lock while they touch it.
"""

from __future__ import annotations

import base64
import copy
import binascii
import time
import uuid
from typing import Any, Callable, Mapping
from urllib.parse import quote

from . import hubspot_crm, hubspot_oauth
from .http import BadJson, Request, Response
from .hubspot_ratelimit import RateLimiter
from .hubspot_store import Contact, HubSpotStore, Key, iso_ms, normalize_values, parse_ms

DEFAULT_PORTAL_ID = 2026001
DEFAULT_RATE_LIMIT: dict[str, Any] = {"per_10s": 190, "per_second": 19, "daily": 500_000,
                                      "retry_after": False}
SUBMISSIONS_DEFAULT_LIMIT, SUBMISSIONS_MAX_LIMIT = 20, 50
FORMS_DEFAULT_LIMIT, FORMS_MAX_LIMIT = 20, 500
SEARCH_MAX_LIMIT, SEARCH_RESULT_CAP = 200, 10_000
BATCH_READ_MAX = 100
MAX_SUBMITTED_VALUES = 1000
DEFAULT_CONTACT_PROPERTIES = ("createdate", "email", "firstname", "lastmodifieddate", "lastname")
ALWAYS_CONTACT_PROPERTIES = ("createdate", "lastmodifieddate", "hs_object_id")
DATE_PROPERTIES = ("createdate", "lastmodifieddate")

AUTH_MESSAGE = ("Authentication credentials not found. This API supports OAuth 2.0 authentication "
                "and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview")


def _error(status: int, message: str, category: str | None = None, **extra: Any) -> Response:
    """HubSpot's common error body: status/message/correlationId, plus a category when it has one."""
    body: dict[str, Any] = {"status": "error", "message": message, "correlationId": str(uuid.uuid4())}
    if category:
        body["category"] = category
    body.update(extra)
    return Response.json(status, body)


def _submit_error(status: int, message: str, error_type: str) -> Response:
    """The form-submit endpoint words its errors as a list of ``errorType``s."""
    return _error(status, "The request is not valid" if status == 400 else message,
                  errors=[{"message": message, "errorType": error_type}])


class _Invalid(Exception):
    """A request the endpoint refuses with a 400; carries the message."""


def _int_arg(req: Request, name: str, default: int) -> int:
    raw = req.arg(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise _Invalid(f"Unable to parse '{name}': {raw!r} is not an integer") from None


def _encode_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("ascii")).decode("ascii")


def _decode_cursor(token: str) -> str:
    try:
        padded = token.strip() + "=" * (-len(token.strip()) % 4)
        return base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise _Invalid(f"Invalid 'after' token: {token!r}") from None


class HubSpotApi:
    """Registers the HubSpot routes on the app's router and owns the portal's state."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.clock: Callable[[], float] = time.time   # replace in tests to walk time
        self.portal_id: int = DEFAULT_PORTAL_ID
        self.store = HubSpotStore(clock=lambda: self.clock())
        self.limiter = RateLimiter(clock=lambda: self.clock())
        self.oauth = hubspot_oauth.HubSpotOAuth(self)   # POST /oauth/v1/token (refresh grant)
        self.reset()
        add = app.router.add
        limited = self._limited
        add("GET", "/account-info/v3/details", limited(self._account_details),
            family="hubspot.account", auth="hubspot")
        for path in ("/marketing/v3/forms/", "/marketing/v3/forms"):
            add("GET", path, limited(self._list_forms), family="hubspot.forms", auth="hubspot")
            add("POST", path, limited(self._create_form), family="hubspot.forms", auth="hubspot")
        add("GET", "/marketing/v3/forms/{formId}", limited(self._get_form),
            family="hubspot.forms", auth="hubspot")
        add("POST", "/submissions/v3/integration/submit/{portalId}/{formGuid}", self._submit,
            family="hubspot.submit", auth=None)
        add("GET", "/form-integrations/v1/submissions/forms/{formGuid}", limited(self._submissions),
            family="hubspot.submissions", auth="hubspot")
        add("POST", "/crm/v3/objects/contacts/search", limited(self._search_contacts),
            family="hubspot.contacts", auth="hubspot")
        add("POST", "/crm/v3/objects/contacts/batch/read", limited(self._batch_read_contacts),
            family="hubspot.contacts", auth="hubspot")
        self.crm = hubspot_crm.HubSpotCrm(self, limited)   # CRM v3 contact writes and properties

    # -- dataset -------------------------------------------------------------------------
    def load(self, data: Mapping[str, Any]) -> None:
        """Replace the portal with a dataset: ``portal_id``, ``forms``, ``submissions``, ``rate_limit``."""
        limits = {**DEFAULT_RATE_LIMIT, **dict(data.get("rate_limit") or {})}
        unknown = set(limits) - set(DEFAULT_RATE_LIMIT)
        if unknown:
            raise ValueError(f"unknown rate_limit settings: {sorted(unknown)}")
        # Build aside and swap, so a bad dataset leaves the running portal untouched.
        store = HubSpotStore(clock=lambda: self.clock())
        store.load(data)
        oauth = hubspot_oauth.parse(data.get("oauth"))
        with self.app.lock:
            self.oauth.settings = oauth
            self.portal_id = int(data.get("portal_id") or DEFAULT_PORTAL_ID)
            self.store = store
            self.limiter.configure(**limits)
            self.limiter.clear()

    def dump(self) -> dict[str, Any]:
        with self.app.lock:
            out = {"portal_id": self.portal_id, **self.store.dump(),
                   "rate_limit": self.limiter.settings()}
            return {**out, "oauth": dict(self.oauth.settings)} if self.oauth.settings else out

    def reset(self) -> None:
        with self.app.lock:
            self.portal_id = DEFAULT_PORTAL_ID
            self.oauth.settings = {}
            self.store.clear()
            self.limiter.configure(**DEFAULT_RATE_LIMIT)
            self.limiter.clear()

    def set_rate_limit(self, per_10s: int | None = None, per_second: int | None = None, *,
                       daily: int | None = None, retry_after: bool | None = None) -> None:
        """Change the limits at run time; the windows keep what they have already counted."""
        with self.app.lock:
            self.limiter.configure(per_10s, per_second, daily, retry_after)

    # -- helpers for tests and demos ------------------------------------------------------
    def create_form(self, name: str, form_id: str | None = None) -> str:
        """Create a HubSpot form with default fields; returns its guid."""
        with self.app.lock:
            body: dict[str, Any] = {"name": name, "formType": "hubspot"}
            if form_id:
                body["id"] = form_id
            return self.store.add_form(body)["id"]

    def add_submission(self, form_id: str, values: Mapping[str, str], submitted_at: int | None = None,
                       conversion_id: str | None = None, page_url: str | None = None) -> str:
        """Store a submission as if the form had been filled in; returns its conversionId."""
        with self.app.lock:
            if form_id not in self.store.forms:
                raise KeyError(f"unknown HubSpot form {form_id!r}")
            item = self.store.add_submission(form_id, normalize_values(values), submitted_at,
                                             conversion_id, page_url)
            return item["conversionId"]

    def submissions(self, form_id: str) -> list[dict[str, Any]]:
        """All of a form's submissions in API shape, newest first."""
        with self.app.lock:
            if form_id not in self.store.forms:
                raise KeyError(f"unknown HubSpot form {form_id!r}")
            return [{**s, "values": [dict(v) for v in s["values"]]}
                    for s in self.store.logs[form_id].newest_first()]

    def forms(self) -> list[dict[str, Any]]:
        """All form definitions (v3 shape, archived ones included), in creation order."""
        with self.app.lock:
            return copy.deepcopy(list(self.store.forms.values()))

    # -- errors the server asks for ------------------------------------------------------
    def unauthorized(self) -> Response:
        return _error(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION")

    def not_found(self, req: Request, path_known: bool) -> Response:
        if path_known:
            return _error(405, f"HTTP {req.method} is not supported by this URL", "VALIDATION_ERROR")
        return _error(404, f"No route found for {req.method} {req.path}", "OBJECT_NOT_FOUND")

    def fault_response(self, status: int, retry_after: int | None = None) -> Response:
        """The reply an injected fault should send on a ``hubspot.*`` route, in HubSpot's words.

        For the fault injector: a 429 looks like the burst limit's (same body as the real
        limiter), 5xx like HubSpot's internal errors; ``retry_after`` adds the header.
        """
        if status == 429:
            response = _error(429, "You have reached your ten_secondly_rolling limit.",
                              errorType="RATE_LIMIT", policyName="TEN_SECONDLY_ROLLING",
                              requestId=str(uuid.uuid4()))
        else:
            message = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}.get(
                status, "internal error")
            response = _error(status, message, "INTERNAL_ERROR" if status == 500 else None)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    # -- rate limiting -------------------------------------------------------------------
    def _limited(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """Wrap a handler: count the call against the limits and stamp the limit headers."""
        def run(req: Request) -> Response:
            with self.app.lock:
                verdict = self.limiter.check()
                if not verdict.allowed:
                    name = verdict.policy.lower() if verdict.policy else "rate"
                    response = _error(429, f"You have reached your {name} limit.",
                                      errorType="RATE_LIMIT", policyName=verdict.policy,
                                      requestId=str(uuid.uuid4()))
                else:
                    try:
                        response = handler(req)
                    except _Invalid as exc:
                        response = _error(400, str(exc), "VALIDATION_ERROR")
                response.headers.update(verdict.headers)
                return response
        run.__name__ = handler.__name__
        run.__doc__ = handler.__doc__
        return run

    # -- account -------------------------------------------------------------------------
    def _account_details(self, req: Request) -> Response:
        return Response.json(200, {
            "portalId": self.portal_id, "accountType": "STANDARD", "timeZone": "Etc/UTC",
            "companyCurrency": "USD", "additionalCurrencies": [], "utcOffset": "+00:00",
            "utcOffsetMilliseconds": 0, "uiDomain": "app.hubspot.com", "dataHostingLocation": "na1"})

    # -- forms ---------------------------------------------------------------------------
    def _list_forms(self, req: Request) -> Response:
        limit = min(max(_int_arg(req, "limit", FORMS_DEFAULT_LIMIT), 1), FORMS_MAX_LIMIT)
        after = req.arg("after")
        offset = 0
        if after:
            text = _decode_cursor(after)
            if not text.isdigit():
                raise _Invalid(f"Invalid 'after' token: {after!r}")
            offset = int(text)
        types = {t for raw in req.query.get("formTypes", []) for t in raw.split(",") if t}
        types = types or {"hubspot"}
        archived = (req.arg("archived") or "false").lower() == "true"
        matching = [f for f in self.store.forms.values()
                    if ("all" in types or f.get("formType") in types)
                    and bool(f.get("archived")) == archived]
        body: dict[str, Any] = {"results": matching[offset:offset + limit]}
        if offset + limit < len(matching):
            token = _encode_cursor(str(offset + limit))
            body["paging"] = {"next": {"after": token, "link": (
                f"{self.app.base_url}/marketing/v3/forms/?limit={limit}&after={quote(token, safe='')}")}}
        return Response.json(200, body)

    def _create_form(self, req: Request) -> Response:
        body = self._json_object(req)
        if not isinstance(body.get("name"), str) or not body["name"].strip():
            raise _Invalid("Some required fields were not set: [name]")
        if not isinstance(body.get("formType"), str):
            raise _Invalid("Some required fields were not set: [formType]")
        body.pop("id", None)  # HubSpot assigns the guid
        return Response.json(201, self.store.add_form(body))

    def _get_form(self, req: Request) -> Response:
        form = self.store.forms.get(req.params["formId"])
        if form is None:
            return _error(404, f"Form {req.params['formId']} does not exist", "OBJECT_NOT_FOUND")
        return Response.json(200, form)

    # -- public submit ---------------------------------------------------------------------
    def _submit(self, req: Request) -> Response:
        """Accept any values HubSpot would store; refuse only structurally broken bodies."""
        portal, guid = req.params["portalId"], req.params["formGuid"]
        with self.app.lock:
            if portal != str(self.portal_id) or guid not in self.store.forms:
                return _submit_error(404, f"Form {guid} was not found in portal {portal}",
                                     "FORM_NOT_FOUND")
            try:
                values, submitted_at, page_url = self._parse_submission(req)
            except _SubmitInvalid as exc:
                return _submit_error(400, exc.message, exc.error_type)
            self.store.add_submission(guid, values, submitted_at, None, page_url)
        return Response.json(200, {"inlineMessage": "Thanks for submitting the form."})

    def _parse_submission(self, req: Request) -> tuple[list[dict[str, str]], int | None, str | None]:
        try:
            body = req.json()
        except BadJson as exc:
            raise _SubmitInvalid(f"Invalid input JSON: {exc}", "INVALID_JSON") from None
        if not isinstance(body, dict):
            raise _SubmitInvalid("Invalid input JSON: expected an object", "INVALID_JSON")
        fields = body.get("fields")
        if not isinstance(fields, list):
            raise _SubmitInvalid("Required field 'fields' is missing or not a list", "REQUIRED_FIELD")
        if len(fields) > MAX_SUBMITTED_VALUES:
            raise _SubmitInvalid(f"At most {MAX_SUBMITTED_VALUES} values may be submitted",
                                 "MAX_NUMBER_OF_SUBMITTED_VALUES_EXCEEDED")
        values = []
        for i, f in enumerate(fields):
            if not isinstance(f, dict) or not isinstance(f.get("name"), str) or not f["name"]:
                raise _SubmitInvalid(f"fields[{i}].name is required", "REQUIRED_FIELD")
            value = f.get("value", "")
            if isinstance(value, (dict, list)):
                raise _SubmitInvalid(f"fields[{i}].value must be a string", "INVALID_METADATA")
            text = "" if value is None else (str(value).lower() if isinstance(value, bool) else str(value))
            values.append({"name": f["name"], "value": text,
                           "objectTypeId": str(f.get("objectTypeId") or "0-1")})
        submitted_at = None
        if body.get("submittedAt") not in (None, ""):
            raw = body["submittedAt"]
            if isinstance(raw, bool) or not (isinstance(raw, int) or str(raw).strip().isdigit()):
                raise _SubmitInvalid(f"submittedAt must be epoch milliseconds, got {raw!r}",
                                     "INVALID_METADATA")
            submitted_at = int(raw)
        context = body.get("context") or {}
        if not isinstance(context, dict):
            raise _SubmitInvalid("context must be an object", "INVALID_METADATA")
        page_url = context.get("pageUri")
        return values, submitted_at, (None if page_url is None else str(page_url))

    # -- submissions feed ----------------------------------------------------------------
    def _submissions(self, req: Request) -> Response:
        guid = req.params["formGuid"]
        log = self.store.logs.get(guid)
        if log is None:
            return _error(404, f"Form {guid} does not exist", "OBJECT_NOT_FOUND")
        limit = min(max(_int_arg(req, "limit", SUBMISSIONS_DEFAULT_LIMIT), 1), SUBMISSIONS_MAX_LIMIT)
        after = req.arg("after")
        before = self._parse_submission_cursor(after) if after else None
        items, next_key = log.page(limit, before)
        body: dict[str, Any] = {"results": items}
        if next_key is not None:
            token = _encode_cursor(f"{next_key[0]}:{next_key[1]}")
            body["paging"] = {"next": {"after": token, "link": (
                f"{self.app.base_url}/form-integrations/v1/submissions/forms/{guid}"
                f"?limit={limit}&after={quote(token, safe='')}")}}
        return Response.json(200, body)

    @staticmethod
    def _parse_submission_cursor(token: str) -> Key:
        """The cursor names the last item served: (submittedAt, seq); the next page starts below it."""
        ms, sep, seq = _decode_cursor(token).partition(":")
        if not sep or not ms.lstrip("-").isdigit() or not seq.isdigit():
            raise _Invalid(f"Invalid 'after' token: {token!r}")
        return int(ms), int(seq)

    # -- contacts ------------------------------------------------------------------------
    def _search_contacts(self, req: Request) -> Response:
        body = self._json_object(req)
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit <= SEARCH_MAX_LIMIT:
            raise _Invalid(f"limit must be between 1 and {SEARCH_MAX_LIMIT}, got {limit!r}")
        after = str(body.get("after") or "0")
        if not after.isdigit():
            raise _Invalid(f"Invalid 'after': {after!r}")
        offset = int(after)
        if offset >= SEARCH_RESULT_CAP:
            raise _Invalid(f"Search can only page through the first {SEARCH_RESULT_CAP} results; "
                           f"after={offset} is past that limit")
        groups = body.get("filterGroups") or []
        if not isinstance(groups, list) or len(groups) > 5 or any(
                not isinstance(g, dict) or len(g.get("filters") or []) > 6 for g in groups):
            raise _Invalid("At most 5 filterGroups with at most 6 filters each are allowed")
        matches = [c for c in self._candidates(groups) if _matches(c, groups)]
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
                return list(self.store.contacts_by_id.values())
            for e in emails:
                contact = self.store.contacts.get(str(e).strip().lower())
                if contact is not None:
                    picked[contact.id] = contact
        return list(picked.values()) if groups else list(self.store.contacts_by_id.values())

    def _batch_read_contacts(self, req: Request) -> Response:
        started = iso_ms(self.store.now_ms())
        body = self._json_object(req)
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or not all(isinstance(i, dict) and "id" in i for i in inputs):
            raise _Invalid("inputs must be a list of {\"id\": ...} objects")
        if len(inputs) > BATCH_READ_MAX:
            raise _Invalid(f"Batch input limit exceeded: at most {BATCH_READ_MAX} inputs, got {len(inputs)}")
        id_property = (body.get("idProperty") or "hs_object_id").lower()
        if id_property not in ("hs_object_id", "email"):
            raise _Invalid(f"idProperty {id_property!r} is not a unique property")
        properties = _requested(body.get("properties"))
        results, missing, seen = [], [], set()
        for item in inputs:
            key = str(item["id"]).strip()
            contact = (self.store.contacts.get(key.lower()) if id_property == "email"
                       else self.store.contacts_by_id.get(key))
            if contact is None:
                missing.append(key)
            elif contact.id not in seen:
                seen.add(contact.id)
                results.append(_contact_json(contact, properties))
        out: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                               "completedAt": iso_ms(self.store.now_ms())}
        if not missing:
            return Response.json(200, out)
        out["numErrors"] = 1
        out["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                          "message": "Could not get some CONTACT objects, they may be deleted or not exist. "
                                     "Check that ids are valid.",
                          "context": {"ids": missing}}]
        return Response.json(207, out)

    @staticmethod
    def _json_object(req: Request) -> dict[str, Any]:
        try:
            body = req.json()
        except BadJson as exc:
            raise _Invalid(f"Invalid input JSON: {exc}") from None
        if not isinstance(body, dict):
            raise _Invalid("Invalid input JSON: expected an object")
        return body


class _SubmitInvalid(Exception):
    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.message, self.error_type = message, error_type


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
    return None if held is None else held[1].lower()


def _operand(name: str, value: Any) -> Any:
    if name.lower() in DATE_PROPERTIES:
        try:
            return parse_ms(value)
        except ValueError:
            raise _Invalid(f"{value!r} is not a valid date for {name}") from None
    if name.lower() == "hs_object_id":
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _Invalid(f"{value!r} is not a valid id") from None
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
        raise _Invalid(f"Unsupported operator {op!r}")
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
