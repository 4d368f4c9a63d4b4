"""Fault injection: the network and vendor failures a connector must survive, on demand.

``server.py`` asks :meth:`Faults.before` ahead of every non-admin handler (answer with an
injected reply, drop the connection, or go on) and :meth:`Faults.after` once the handler
has run (drop the reply of a write that *was applied*: the failure that makes naive
connectors create duplicates). Decisions come from one ``random.Random(seed)``, so a
single-threaded client sees the same faults on every run; ``fail_next`` queues exact
faults for tests that must not depend on chance.

Replies are shaped like each vendor's own: Salesforce ``[{"message", "errorCode"}]``
lists (500 ``UNKNOWN_EXCEPTION``, 503 ``SERVER_UNAVAILABLE``), HubSpot JSON error objects
(429 ``RATE_LIMIT`` with ``policyName`` ``TEN_SECONDLY_ROLLING``). Salesforce's REST API
has no 429: when it sheds load it answers 503 ``SERVER_UNAVAILABLE``, so that is what a
"rate limit" fault looks like on ``/services/`` paths (with ``Retry-After`` when set).

``REQUEST_LIMIT_EXCEEDED`` has two meanings in Salesforce and a connector must tell them
apart: ``daily_limit`` is the 24-hour allowance ("TotalRequests Limit exceeded.": stop for
the day; the metered limit in ``salesforce_api`` gives the same reply) and
``concurrent_limit`` is too many long-running requests at once ("ConcurrentRequests
(Concurrent API Requests) Limit exceeded.": back off and retry). Both are 403. HubSpot has
neither; on its routes they answer as its 429 rate limit.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from typing import Any, Iterable

from .drop import DROP
from .http import Request, Response

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
KINDS = ("error", "error_500", "error_503", "rate_limit", "drop", "apply_then_drop",
         "concurrent_limit", "daily_limit")
DEFAULTS: dict[str, Any] = {
    "latency_ms": 0,
    "error_rate": 0.0,
    "rate_limit_rate": 0.0,
    "retry_after": 1,
    "drop_rate": 0.0,
    "apply_then_drop_rate": 0.0,
    "concurrent_limit_rate": 0.0,
    "families": None,
    "fail_next": [],
}


class FaultConfigError(ValueError):
    """A fault setting has an unknown name or a value out of range."""


class Faults:
    """Thread-safe, seeded fault injector; settings may change while the sandbox runs."""

    def __init__(self, seed: int = 0, **settings: Any) -> None:
        self._lock = threading.Lock()
        self.seed = seed
        self._rng = random.Random(seed)
        self._settings: dict[str, Any] = {k: (list(v) if isinstance(v, list) else v)
                                          for k, v in DEFAULTS.items()}
        self.stats: Counter[str] = Counter()
        self.configure(**settings)
        self._hubspot_reply: Any = None

    def bind(self, app: Any) -> None:
        """Use the vendor modules' own error replies where they offer them (HubSpot does)."""
        hubspot = getattr(app, "hubspot", None)
        self._hubspot_reply = getattr(hubspot, "fault_response", None)

    # -- settings -----------------------------------------------------------------------
    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change settings (validated first, all or nothing); ``seed`` restarts the sequence."""
        clean: dict[str, Any] = {}
        for name, value in settings.items():
            if name == "seed":
                clean[name] = int(value)
            elif name not in DEFAULTS:
                raise FaultConfigError(f"unknown fault setting {name!r}; known: "
                                       f"{', '.join(sorted(DEFAULTS))}, seed")
            else:
                clean[name] = self._check(name, value)
        with self._lock:
            if "seed" in clean:
                self.seed = clean.pop("seed")
                self._rng = random.Random(self.seed)
            self._settings.update(clean)
            return self._snapshot()

    @staticmethod
    def _check(name: str, value: Any) -> Any:
        if name.endswith("_rate"):
            rate = float(value)
            if not 0.0 <= rate <= 1.0:
                raise FaultConfigError(f"{name} must be between 0 and 1")
            return rate
        if name == "latency_ms":
            ms = float(value)
            if ms < 0:
                raise FaultConfigError("latency_ms must be >= 0")
            return ms
        if name == "retry_after":
            if value is None:
                return None
            seconds = float(value)
            if seconds < 0:
                raise FaultConfigError("retry_after must be >= 0 or null")
            return int(seconds) if seconds.is_integer() else seconds
        if name == "families":
            if value is None:
                return None
            if isinstance(value, str):
                value = [value]
            return [str(v) for v in value]
        if name == "fail_next":
            kinds = [value] if isinstance(value, str) else list(value or [])
            for kind in kinds:
                if kind not in KINDS:
                    raise FaultConfigError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
            return kinds
        return value

    def _snapshot(self) -> dict[str, Any]:
        out = {k: (list(v) if isinstance(v, list) else v) for k, v in self._settings.items()}
        out["seed"] = self.seed
        return out

    @property
    def settings(self) -> dict[str, Any]:
        with self._lock:
            return self._snapshot()

    def reset(self, seed: int | None = None) -> None:
        """Back to no faults (and, optionally, a new seed); stats are cleared."""
        with self._lock:
            self._settings = {k: (list(v) if isinstance(v, list) else v)
                              for k, v in DEFAULTS.items()}
            if seed is not None:
                self.seed = seed
            self._rng = random.Random(self.seed)
            self.stats.clear()

    # -- the hooks server.py calls ------------------------------------------------------
    def _applies(self, family: str) -> bool:
        families = self._settings["families"]
        return families is None or any(family.startswith(f) for f in families)

    def _choose(self, req: Request) -> str | None:
        """Pick this call's fault (under the lock): a queued one first, else by the dice."""
        is_write = req.method in WRITE_METHODS
        queue: list[str] = self._settings["fail_next"]
        if queue:
            if queue[0] != "apply_then_drop" or is_write:
                return queue.pop(0)
            return None  # apply_then_drop waits for the next write
        s = self._settings
        if not (s["drop_rate"] or s["error_rate"] or s["rate_limit_rate"]
                or s["apply_then_drop_rate"] or s["concurrent_limit_rate"]):
            return None
        roll = self._rng.random()
        # concurrent_limit comes last so the sequences of the older kinds stay as they were
        for kind, rate in (("drop", s["drop_rate"]), ("error", s["error_rate"]),
                           ("rate_limit", s["rate_limit_rate"]),
                           ("concurrent_limit", s["concurrent_limit_rate"])):
            if roll < rate:
                return kind
            roll -= rate
        if is_write and roll < s["apply_then_drop_rate"]:
            return "apply_then_drop"
        return None

    def before(self, req: Request, family: str) -> Any:
        """None to go on, a Response to answer with, or DROP to close the connection."""
        with self._lock:
            if not self._applies(family):
                return None
            latency = self._settings["latency_ms"]
            kind = self._choose(req)
            if kind == "error":
                kind = "error_500" if self._rng.random() < 0.5 else "error_503"
            ids = [uuid.UUID(int=self._rng.getrandbits(128), version=4) for _ in range(2)]
            retry_after = self._settings["retry_after"]
            if kind is not None:
                self.stats[kind] += 1
                self.stats["total"] += 1
            if kind == "apply_then_drop":
                # marked on the request itself: after() sees the same object once it has run
                setattr(req, "_leadsync_drop_reply", True)
        if latency:
            time.sleep(latency / 1000.0)   # outside every lock: other clients go on
        if kind is None or kind == "apply_then_drop":
            return None
        if kind == "drop":
            return DROP
        salesforce = family.startswith("salesforce") or req.path.startswith("/services/")
        if kind in ("concurrent_limit", "daily_limit"):
            if salesforce:
                return _salesforce_403(kind)
            kind = "rate_limit"   # HubSpot's nearest reply: its own 429
        if not salesforce and self._hubspot_reply is not None:
            status = 429 if kind == "rate_limit" else int(kind[-3:])
            return self._hubspot_reply(status, retry_after if kind == "rate_limit" else None)
        if kind == "error_500":
            return _salesforce_500(ids[0]) if salesforce else _hubspot_error(500, ids)
        if kind == "error_503":
            return _salesforce_503(None) if salesforce else _hubspot_error(503, ids)
        # rate_limit
        return _salesforce_503(retry_after) if salesforce else _hubspot_429(ids, retry_after)

    def after(self, req: Request, family: str, response: Response) -> Any:
        """DROP when this write was picked for "apply, then drop the reply"."""
        if getattr(req, "_leadsync_drop_reply", False):
            return DROP
        return None


def _salesforce_500(error_id: uuid.UUID) -> Response:
    n = error_id.int % 10**10
    return Response.json(500, [{"message": "An unexpected error occurred. Please include this "
                                           f"ErrorId if you contact support: {n}-{n % 99991} "
                                           f"({-(n % 2**31)})", "errorCode": "UNKNOWN_EXCEPTION"}])


LIMIT_MESSAGES = {
    "daily_limit": "TotalRequests Limit exceeded.",
    "concurrent_limit": "ConcurrentRequests (Concurrent API Requests) Limit exceeded.",
}


def _salesforce_403(kind: str) -> Response:
    """403 REQUEST_LIMIT_EXCEEDED in either meaning; the message is what tells them apart."""
    return Response.json(403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED",
                                "message": LIMIT_MESSAGES[kind]}])


def _salesforce_503(retry_after: Any) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return Response.json(503, [{"message": "Server is temporarily unavailable. Please try again "
                                           "later.", "errorCode": "SERVER_UNAVAILABLE"}], headers)


def _hubspot_error(status: int, ids: Iterable[uuid.UUID]) -> Response:
    correlation = str(next(iter(ids)))
    message = ("internal error" if status == 500
               else "The service is temporarily unavailable. Please try again later.")
    return Response.json(status, {"status": "error", "message": message,
                                  "correlationId": correlation,
                                  "category": "INTERNAL_ERROR" if status == 500
                                  else "SERVICE_UNAVAILABLE"})


def _hubspot_429(ids: list[uuid.UUID], retry_after: Any) -> Response:
    headers = {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
               "X-HubSpot-RateLimit-Max": "190", "X-HubSpot-RateLimit-Remaining": "0",
               "X-HubSpot-RateLimit-Secondly": "19", "X-HubSpot-RateLimit-Secondly-Remaining": "0"}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return Response.json(429, {"status": "error",
                               "message": "You have reached your ten_secondly_rolling limit.",
                               "errorType": "RATE_LIMIT", "correlationId": str(ids[0]),
                               "policyName": "TEN_SECONDLY_ROLLING", "requestId": str(ids[1])},
                         headers)
