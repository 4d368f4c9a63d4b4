"""How leadsync talks HTTP: reply classification, retries, and the sandbox route.

One function, :func:`classify`, says what a reply from either vendor means (ok, retry,
session expired, budget spent, this record is bad, stop); every adapter call goes through
:func:`with_retries`, so backoff, ``Retry-After`` and the limit of patience are decided in
one place and tested as a table.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Callable, Mapping, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_after_delay
from tenacity.wait import wait_base

from connector.errors import TransientError

T = TypeVar("T")


class Verdict(StrEnum):
    OK = "ok"
    RETRY = "retry"            # transient: connection lost, 5xx, 429
    EXPIRED = "expired"        # 401: renew the session once, then repeat
    LIMIT = "limit"            # the org's API allowance is spent: stop the run, keep state
    RECORD = "record"          # this record is bad; park it, the batch goes on
    FATAL = "fatal"            # the request itself is wrong; retrying will not help


# Salesforce error codes that belong to one record, not to the request or the org.
RECORD_CODES = frozenset({
    "REQUIRED_FIELD_MISSING", "STRING_TOO_LONG", "INVALID_EMAIL_ADDRESS", "DUPLICATE_VALUE",
    "DUPLICATES_DETECTED", "FIELD_CUSTOM_VALIDATION_EXCEPTION", "CANNOT_UPDATE_CONVERTED_LEAD",
    "INVALID_CROSS_REFERENCE_KEY", "ENTITY_IS_DELETED", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    "INVALID_FIELD_FOR_INSERT_UPDATE", "MALFORMED_ID", "FIELD_INTEGRITY_EXCEPTION",
    "INVALID_TYPE_ON_FIELD_IN_RECORD", "NUMBER_OUTSIDE_VALID_RANGE", "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "UNABLE_TO_LOCK_ROW",
})


def error_code(body: Any) -> str | None:
    """The vendor's error code from a parsed body: Salesforce lists or HubSpot objects."""
    if isinstance(body, list) and body and isinstance(body[0], Mapping):
        return body[0].get("errorCode") or body[0].get("statusCode")
    if isinstance(body, Mapping):
        return body.get("errorCode") or body.get("errorType") or body.get("category")
    return None


def error_message(body: Any) -> str:
    """The vendor's first error message from a parsed body ('' when there is none)."""
    if isinstance(body, list) and body and isinstance(body[0], Mapping):
        return str(body[0].get("message") or "")
    if isinstance(body, Mapping):
        return str(body.get("message") or "")
    return ""


def is_concurrent_limit(body: Any) -> bool:
    """``REQUEST_LIMIT_EXCEEDED`` for concurrent long-running requests, not the daily total.

    Told apart by the message only: "ConcurrentRequests (Concurrent API Requests) Limit
    exceeded." against "TotalRequests Limit exceeded." (captures in OrgCheck issues 181
    and 432; docs/salesforce-org-rules.md).
    """
    return "concurrent" in error_message(body).lower()


def classify(status: int | None, body: Any = None) -> Verdict:
    """What a reply means. ``status`` None is a connection that gave no reply at all."""
    if status is None:
        return Verdict.RETRY
    if 200 <= status < 300:
        return Verdict.OK
    code = error_code(body)
    if status == 401:
        return Verdict.EXPIRED
    if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
        # One code, two meanings (api-notes D): the day's allowance ("TotalRequests Limit
        # exceeded.") stops the run; too many long requests at once ("ConcurrentRequests
        # (Concurrent API Requests) Limit exceeded.") passes when they finish: back off.
        return Verdict.RETRY if is_concurrent_limit(body) else Verdict.LIMIT
    if status == 429 or status >= 500:
        return Verdict.RETRY
    if code == "UNABLE_TO_LOCK_ROW":
        return Verdict.RETRY
    if status in (400, 404) and code in RECORD_CODES:
        return Verdict.RECORD
    return Verdict.FATAL


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    max_seconds: float = 120.0
    initial: float = 0.5
    max_wait: float = 30.0

    @classmethod
    def fast(cls) -> "RetryPolicy":
        """For tests and the demo: same logic, milliseconds instead of seconds."""
        return cls(attempts=6, max_seconds=10.0, initial=0.005, max_wait=0.05)


class _WaitRetryAfterOrBackoff(wait_base):
    """Honour the server's Retry-After; otherwise exponential backoff with full jitter."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def __call__(self, retry_state: Any) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        after = getattr(exc, "retry_after", None)
        if after is not None:
            return min(float(after), self.policy.max_seconds)
        ceiling = min(self.policy.max_wait, self.policy.initial * 2 ** (retry_state.attempt_number - 1))
        return random.uniform(self.policy.initial / 2, ceiling)


def with_retries(call: Callable[[], T], policy: RetryPolicy) -> T:
    """Run ``call``; repeat it while it raises :class:`TransientError`, within the policy."""
    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.max_seconds),
        wait=_WaitRetryAfterOrBackoff(policy),
        retry=retry_if_exception_type(TransientError),
        reraise=True,
    )
    return retrying(call)


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date; rare from these vendors, fall back to backoff


class SandboxAdapter(HTTPAdapter):
    """Send https:// requests to the sandbox's http:// address.

    simple-salesforce hard-codes https:// for every URL it builds (api-notes A1), so this
    adapter, mounted on the session it is given, rewrites scheme and host; login hosts are
    routed the same way.
    """

    def __init__(self, target: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = target

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        parts = urlsplit(request.url or "")
        request.url = urlunsplit(("http", self.target, parts.path, parts.query, parts.fragment))
        return super().send(request, **kwargs)


class ApiSession(requests.Session):
    """A requests session that reads the proxy and CA-bundle environment once per host.

    requests re-reads ``os.environ`` (proxies, ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``) on every
    request; with a few hundred calls a run that was a tenth of leadsync's CPU. The
    environment does not change under a running sync, so the answer is kept per host and
    per request settings; proxies and custom CA bundles work exactly as before.
    """

    def __init__(self) -> None:
        super().__init__()
        self._settings: dict[tuple[Any, ...], dict[str, Any]] = {}

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> dict[str, Any]:
        # (positional: requests' own signature, which requests calls positionally)
        parts = urlsplit(str(url or ""))
        key = (parts.scheme, parts.netloc, repr(proxies), stream, repr(verify), repr(cert),
               self.trust_env, repr(self.proxies), repr(self.verify), repr(self.cert))
        found = self._settings.get(key)
        if found is None:
            found = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if len(self._settings) < 64:
                self._settings[key] = found
        return {**found, "proxies": dict(found.get("proxies") or {})}


def session_for(instance_url: str, *, pool: int = 4) -> requests.Session:
    """A requests session for an org: TLS verified for real orgs, rerouted for the sandbox."""
    session = ApiSession()
    if instance_url.startswith("http://"):
        session.mount("https://", SandboxAdapter(urlsplit(instance_url).netloc,
                                                 pool_connections=pool, pool_maxsize=pool))
    else:
        session.mount("https://", HTTPAdapter(pool_connections=pool, pool_maxsize=pool))
        session.verify = True
    return session
