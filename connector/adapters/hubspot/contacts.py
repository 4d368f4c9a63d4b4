"""HubSpot adapter: write leadsync's properties onto contacts through the CRM v3 batch API.

Through hubspot-api-client's generated CRM clients (``crm.contacts.batch_api``,
``crm.properties.core_api``), so the requests and the replies' shapes are the library's.
Each call shares the pull's :class:`HubSpotClient` pacing and counter: the writer slows
down on the same ``X-HubSpot-RateLimit-*`` headers, waits out a 429 like the pull, and its
calls count in the run's HubSpot calls. At most 100 inputs a call (HubSpot's batch limit).

What each call means for exactly-once (the engine relies on it):

* ``update`` (by contact id) and ``upsert`` (by email) set property values: repeating one
  whose reply was lost writes the same values again, harmlessly;
* creation goes only through ``upsert`` with ``idProperty=email``: a repeated upsert finds
  the contact the first one made, so a lost reply can never make a duplicate contact;
* a value HubSpot refuses (a property that does not exist, a value outside an
  enumeration's options) refuses the whole call; the writer names the property, leaves it
  out and sends the rest again, so one bad property never blocks the others.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence, TypeVar

import urllib3
from hubspot.crm.contacts import (  # type: ignore[import-untyped]
    BatchInputSimplePublicObjectBatchInput, BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId, SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputUpsert, SimplePublicObjectId)

from connector.adapters.hubspot.forms import HubSpotClient, missing_scopes_error
from connector.adapters.transport import Verdict, classify, parse_retry_after, with_retries
from connector.errors import ApiError, AuthError, TransientError

BATCH = 100
T = TypeVar("T")
_NOT_VALID = "Property values were not valid: "


@dataclass(frozen=True)
class PropertyInfo:
    """A contact property's definition, as far as the write-back checks it."""

    name: str
    type: str
    options: tuple[str, ...] = ()
    read_only: bool = False


@dataclass
class BatchResult:
    """What one update or upsert call did."""

    ids: dict[str, str] = field(default_factory=dict)      # key sent (id or email) -> contact id
    created: set[str] = field(default_factory=set)         # emails whose contact the upsert made
    missing: set[str] = field(default_factory=set)         # ids HubSpot did not find
    refused: dict[str, str] = field(default_factory=dict)  # property -> HubSpot's error code


class ContactWriter:
    """Batch reads and writes of HubSpot contacts, paced and retried like the pull."""

    def __init__(self, hub: HubSpotClient) -> None:
        self.hub = hub
        self._batch = hub.client.crm.contacts.batch_api
        self._properties = hub.client.crm.properties.core_api

    # -- reads ----------------------------------------------------------------------------
    def properties(self) -> dict[str, PropertyInfo]:
        """Every contact property of the portal (one call)."""
        page = self._call("GET /crm/v3/properties/contacts",
                          lambda: self._properties.get_all_with_http_info("contacts", archived=False,
                                                                         **self._opts()))
        out = {}
        for p in page.results or []:
            meta = p.modification_metadata
            out[p.name] = PropertyInfo(p.name, p.type, tuple(o.value for o in p.options or []),
                                       bool(meta.read_only_value) if meta else False)
        return out

    def find_ids(self, emails: Sequence[str]) -> dict[str, str]:
        """Lower-cased email -> contact id for those that have a contact (100 a call)."""
        found: dict[str, str] = {}
        for start in range(0, len(emails), BATCH):
            chunk = emails[start:start + BATCH]
            body = BatchReadInputSimplePublicObjectId(
                inputs=[SimplePublicObjectId(id=e) for e in chunk], id_property="email",
                properties=["email"], properties_with_history=[])
            reply = self._call("POST /crm/v3/objects/contacts/batch/read",
                               lambda: self._batch.read_with_http_info(body, **self._opts()))
            for item in reply.results or []:
                email = ((item.properties or {}).get("email") or "").strip().lower()
                if email:
                    found[email] = str(item.id)
        return found

    # -- writes ---------------------------------------------------------------------------
    def update(self, changes: Sequence[tuple[str, dict[str, str]]]) -> BatchResult:
        """Set properties on contacts by id (at most 100); ids HubSpot lacks come back missing."""
        result = BatchResult()

        def send(items: Sequence[tuple[str, dict[str, str]]]) -> Any:
            body = BatchInputSimplePublicObjectBatchInput(
                inputs=[SimplePublicObjectBatchInput(id=cid, properties=props) for cid, props in items])
            return self._call("POST /crm/v3/objects/contacts/batch/update",
                              lambda: self._batch.update_with_http_info(body, **self._opts()))

        reply = self._without_refused(changes, send, result)
        for item in (reply.results or []) if reply is not None else []:
            result.ids[str(item.id)] = str(item.id)
        for error in (getattr(reply, "errors", None) or []) if reply is not None else []:
            if error.category == "OBJECT_NOT_FOUND":
                result.missing.update(str(i) for i in (error.context or {}).get("ids", []))
        return result

    def upsert(self, changes: Sequence[tuple[str, dict[str, str]]]) -> BatchResult:
        """Set properties by email, creating the contacts that do not exist (at most 100)."""
        result = BatchResult()

        def send(items: Sequence[tuple[str, dict[str, str]]]) -> Any:
            body = BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
                SimplePublicObjectBatchInputUpsert(id=email, id_property="email",
                                                   properties={"email": email, **props})
                for email, props in items])
            return self._call("POST /crm/v3/objects/contacts/batch/upsert",
                              lambda: self._batch.upsert_with_http_info(body, **self._opts()))

        reply = self._without_refused(changes, send, result)
        for item in (reply.results or []) if reply is not None else []:
            email = ((item.properties or {}).get("email") or "").strip().lower()
            if email:
                result.ids[email] = str(item.id)
                if item.new:
                    result.created.add(email)
        return result

    def _without_refused(self, changes: Sequence[tuple[str, dict[str, str]]],
                         send: Callable[[Sequence[tuple[str, dict[str, str]]]], Any],
                         result: BatchResult) -> Any:
        """Send; when HubSpot refuses some properties' values, drop those and send the rest."""
        items = [(key, dict(props)) for key, props in changes]
        while True:
            items = [(key, props) for key, props in items if props]
            if not items:
                return None
            try:
                return send(items)
            except _Refused as refused:
                if not refused.names or refused.names <= set(result.refused):
                    raise ApiError(f"HubSpot refused the contact write: {refused.summary}",
                                   service="hubspot", status=400) from None
                result.refused.update(refused.names_codes)
                items = [(key, {n: v for n, v in props.items() if n not in refused.names})
                         for key, props in items]

    # -- one call -------------------------------------------------------------------------
    def _opts(self) -> dict[str, Any]:
        """Per-call options: a timeout, and with an OAuth app the current access token
        (``_request_auth`` replaces the configured one for this request)."""
        opts: dict[str, Any] = {"_request_timeout": self.hub.timeout}
        token = self.hub.tokens.current() if self.hub.tokens else None
        if token is not None:
            opts["_request_auth"] = {"type": "oauth2", "in": "header", "key": "Authorization",
                                     "value": f"Bearer {token}"}
        return opts

    def _call(self, what: str, send: Callable[[], tuple[T, int, Any]]) -> T:
        """One request with the pull's retries and pacing; returns the parsed body. ``send``
        builds its options per attempt, so a renewed access token is used at once."""
        renewed = False

        def attempt() -> T:
            nonlocal renewed
            self.hub._wait_turn()
            with self.hub._calls_lock:
                self.hub.calls += 1
            try:
                data, _status, headers = send()
            except urllib3.exceptions.HTTPError as exc:
                raise TransientError(f"HubSpot {what}: {type(exc).__name__}") from None
            except Exception as exc:  # each generated module has its own ApiException class
                status = getattr(exc, "status", None)
                if status is None:
                    raise
                if status == 401 and self.hub.tokens is not None and not renewed:
                    renewed = True     # as the pull: refresh the access token once per call
                    self.hub.tokens.refused(self.hub.tokens.current())
                    raise TransientError("HubSpot access token refused; refreshing it", retry_after=0) from None
                raise _verdict_error(what, int(status), getattr(exc, "body", None),
                                     getattr(exc, "headers", None) or {}) from None
            self.hub._pace(headers or {})
            return data

        return with_retries(attempt, self.hub.retry)


class _Refused(Exception):
    """A 400 naming properties whose values HubSpot would not take."""

    def __init__(self, names_codes: dict[str, str], summary: str) -> None:
        super().__init__(summary)
        self.names_codes = names_codes
        self.names = set(names_codes)
        self.summary = summary


def _verdict_error(what: str, status: int, raw_body: Any, headers: Any) -> Exception:
    try:
        body = json.loads(raw_body) if isinstance(raw_body, (str, bytes)) else raw_body
    except ValueError:
        body = None
    verdict = classify(status, body)
    if verdict is Verdict.RETRY:
        return TransientError(f"HubSpot {what}: {status}", status=status,
                              retry_after=parse_retry_after(headers.get("Retry-After")))
    lacking = missing_scopes_error(what, status, body)
    if lacking is not None:               # the write-back's app lacks contacts.write, say
        return lacking
    if verdict is Verdict.EXPIRED or status == 403:
        return AuthError(f"HubSpot refused the access token ({status})", service="hubspot", status=status)
    refused = refused_properties(body)
    if status == 400 and refused:
        codes = sorted(set(refused.values()))
        return _Refused(refused, f"{', '.join(sorted(refused))} ({', '.join(codes)})")
    # A message can quote the values sent (emails): only the status and category are kept.
    category = body.get("category") if isinstance(body, dict) else None
    return ApiError(f"HubSpot {what} failed ({status} {category or 'error'})",
                    service="hubspot", status=status)


def refused_properties(body: Any) -> dict[str, str]:
    """Property -> error code from HubSpot's "Property values were not valid: [...]" reply."""
    if not isinstance(body, dict):
        return {}
    message = str(body.get("message") or "")
    if not message.startswith(_NOT_VALID):
        return {}
    try:
        items = json.loads(message[len(_NOT_VALID):])
    except ValueError:
        return {m: "INVALID" for m in re.findall(r'"name":"([^"]+)"', message)}
    return {str(i.get("name")): str(i.get("error") or "INVALID")
            for i in items if isinstance(i, dict) and i.get("name")}
