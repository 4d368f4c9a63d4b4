"""The HubSpot half of the sandbox: the endpoints leadsync calls, with HubSpot's wire shapes.

Endpoints (``docs`` in api-notes section B): account details, forms v3 (list, create, get),
the public v3 form submit, the legacy v1 submissions feed (newest first, opaque cursor), and
a small contacts search / batch read over contacts derived from the submissions.

Every authenticated call passes through one rolling-window limiter (``hubspot_ratelimit``)
that stamps the ``X-HubSpot-RateLimit-*`` headers and answers 429 past the configured rate;
the public submit endpoint is not limited, so demos and load tests can seed freely.
State lives in ``hubspot_store``; handlers hold the app lock while they touch it. The
contacts search and batch read live in ``hubspot_contacts``, the request parsing the routes
share in ``hubspot_requests``.
"""

from __future__ import annotations

import copy
import time
import uuid
from typing import Any, Callable, Mapping
from urllib.parse import quote

from . import hubspot_contacts, hubspot_crm, hubspot_events, hubspot_meetings, hubspot_oauth
from .http import BadJson, Request, Response
from .hubspot_ratelimit import RateLimiter
from .hubspot_requests import Invalid as _Invalid
from .hubspot_requests import decode_cursor as _decode_cursor
from .hubspot_requests import encode_cursor as _encode_cursor
from .hubspot_requests import int_arg as _int_arg
from .hubspot_requests import CONTACTS_READ, FORMS, json_object, missing_scopes_reply
from .hubspot_scopes import MODELED_SCOPES
from .hubspot_store import HubSpotStore, Key, normalize_values

DEFAULT_PORTAL_ID = 2026001
DEFAULT_RATE_LIMIT: dict[str, Any] = {"per_10s": 190, "per_second": 19, "daily": 500_000,
                                      "retry_after": False}
SUBMISSIONS_DEFAULT_LIMIT, SUBMISSIONS_MAX_LIMIT = 20, 50
FORMS_DEFAULT_LIMIT, FORMS_MAX_LIMIT = 20, 500
MAX_SUBMITTED_VALUES = 1000
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


class HubSpotApi:
    """Registers the HubSpot routes on the app's router and owns the portal's state."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.clock: Callable[[], float] = time.time   # replace in tests to walk time
        self.portal_id: int = DEFAULT_PORTAL_ID
        self.store = HubSpotStore(clock=lambda: self.clock())
        self.limiter = RateLimiter(clock=lambda: self.clock())
        self.oauth = hubspot_oauth.HubSpotOAuth(self)   # POST /oauth/v1/token (refresh grant)
        # The sandbox token's app's scopes: every scope by default (every route answers), or
        # only ``granted_scopes`` (``grant_only``: a private app as an admin configured it),
        # less ``revoked_scopes`` (``revoke_scopes``). A route whose scopes it holds none of
        # answers 403 MISSING_SCOPES, so an admin can rehearse a private app set up without,
        # say, the marketing events scope.
        self.revoked_scopes: set[str] = set()
        self.granted_scopes: frozenset[str] | None = None
        # Modules holding portal state of their own (events, meetings): emptied on a reset,
        # carried by dump and load, each with clear(), dump_into(out), load_from(data)
        self.parts: list[Any] = []
        self.reset()
        self.contacts = hubspot_contacts.ContactReads(self)   # CRM v3 contacts search, batch read
        add = app.router.add
        limited = self._limited
        add("GET", "/account-info/v3/details", limited(self._account_details),
            family="hubspot.account", auth="hubspot")
        scoped = self.scoped       # each route with the scopes HubSpot's docs give it
        for path in ("/marketing/v3/forms/", "/marketing/v3/forms"):
            add("GET", path, scoped(self._list_forms, FORMS), family="hubspot.forms",
                auth="hubspot")
            add("POST", path, scoped(self._create_form, FORMS), family="hubspot.forms",
                auth="hubspot")
        add("GET", "/marketing/v3/forms/{formId}", scoped(self._get_form, FORMS),
            family="hubspot.forms", auth="hubspot")
        add("POST", "/submissions/v3/integration/submit/{portalId}/{formGuid}", self._submit,
            family="hubspot.submit", auth=None)
        add("GET", "/form-integrations/v1/submissions/forms/{formGuid}",
            scoped(self._submissions, FORMS, "forms-uploaded-files"),
            family="hubspot.submissions", auth="hubspot")
        add("POST", "/crm/v3/objects/contacts/search", scoped(self.contacts.search, CONTACTS_READ),
            family="hubspot.contacts", auth="hubspot")
        add("POST", "/crm/v3/objects/contacts/batch/read",
            scoped(self.contacts.batch_read, CONTACTS_READ), family="hubspot.contacts",
            auth="hubspot")
        hubspot_events.install(self)     # Marketing Events v3: events, attendance, participations
        hubspot_meetings.install(self)   # CRM v3 meetings, their search and contact associations
        self.crm = hubspot_crm.HubSpotCrm(self)   # CRM v3 contact writes and properties

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
            for part in self.parts:
                part.clear()
                part.load_from(data)

    def dump(self) -> dict[str, Any]:
        with self.app.lock:
            out = {"portal_id": self.portal_id, **self.store.dump(),
                   "rate_limit": self.limiter.settings()}
            for part in self.parts:
                part.dump_into(out)
            return {**out, "oauth": dict(self.oauth.settings)} if self.oauth.settings else out

    def revoke_scopes(self, *scopes: str) -> None:
        """The token's app loses these scopes (``grant_all_scopes`` or a reset gives them back)."""
        with self.app.lock:
            self.revoked_scopes.update(scopes)

    def grant_only(self, *scopes: str) -> None:
        """The token's app holds these scopes and no other, as a private app holds the
        scopes ticked when it was made (``grant_all_scopes`` or a reset gives every one).
        The way to rehearse a route whose spec lists many alternatives (the properties
        routes list 100): revoking a few still leaves the app the rest."""
        with self.app.lock:
            self.granted_scopes = frozenset(scopes)
            self.revoked_scopes.clear()

    def held_scopes(self) -> list[str]:
        """The scopes the app lists (the OAuth token reply's ``scopes``): those granted, or
        with every scope granted the ones the sandbox models, less the revoked ones."""
        granted = self.granted_scopes if self.granted_scopes is not None else MODELED_SCOPES
        return sorted(s for s in granted if s not in self.revoked_scopes)

    def holds(self, scope: str) -> bool:
        """Whether the token's app has ``scope``."""
        granted = self.granted_scopes
        return (granted is None or scope in granted) and scope not in self.revoked_scopes

    def grant_all_scopes(self) -> None:
        with self.app.lock:
            self.revoked_scopes.clear()
            self.granted_scopes = None

    def reset(self) -> None:
        with self.app.lock:
            self.revoked_scopes = set()
            self.granted_scopes = None
            self.portal_id = DEFAULT_PORTAL_ID
            self.oauth.settings = {}
            self.oauth.paths.clear()
            self.store.clear()
            self.limiter.configure(**DEFAULT_RATE_LIMIT)
            self.limiter.clear()
            for part in self.parts:
                part.clear()
            # HubSpot's search index trails writes by seconds: a contact changed less than
            # this long ago (by the sandbox's clock) is not yet found by the contacts search.
            self.search_lag_ms = 0

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
                       *, conversion_id: str | None = None, page_url: str | None = None) -> str:
        """Store a submission as if the form had been filled in; returns its conversionId."""
        with self.app.lock:
            if form_id not in self.store.forms:
                raise KeyError(f"unknown HubSpot form {form_id!r}")
            item = self.store.add_submission(form_id, normalize_values(values), submitted_at,
                                             conversion_id=conversion_id, page_url=page_url)
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

    def scoped(self, handler: Callable[[Request], Response], *scopes: str
               ) -> Callable[[Request], Response]:
        """Rate-limited, and refused 403 MISSING_SCOPES (naming ``scopes``) while the token's
        app holds none of them: HubSpot's specs list a route's scopes as alternatives ("one
        of the following scopes"), e.g. a v4 association read between meetings and contacts
        takes the contacts read or write scope. ``revoke_scopes`` and ``grant_only`` take
        them away."""
        inner = self._limited(handler)
        holds = self.holds

        def run(req: Request) -> Response:
            if not any(holds(scope) for scope in scopes):
                return missing_scopes_reply(list(scopes))
            return inner(req)
        run.__name__, run.__doc__ = handler.__name__, handler.__doc__
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
        body = json_object(req)
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
            self.store.add_submission(guid, values, submitted_at, conversion_id=None, page_url=page_url)
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


class _SubmitInvalid(Exception):
    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.message, self.error_type = message, error_type

