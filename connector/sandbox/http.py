"""Plain request/response values and a router, so API modules never touch sockets.

Each vendor module (``salesforce_api``, ``hubspot_api``, ``admin_api``) registers handlers
on a :class:`Router`; a handler takes a :class:`Request` and returns a :class:`Response`.
That keeps the emulated APIs testable without a server and lets ``server.py`` own the
cross-cutting parts (auth, counters, faults) in one place.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Protocol
from urllib.parse import parse_qs


class Headers(Protocol):
    """Request headers as read here: a plain dict (tests, composite subrequests) or
    http.server's ``email.message.Message``, which has ``get`` and ``items`` but is no Mapping."""

    def get(self, name: str, /) -> str | None:
        ...

    def items(self) -> Iterable[tuple[str, str]]:
        ...


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, method: str, target: str, headers: Headers, body: bytes = b"") -> "Request":
        path, _, qs = target.partition("?")
        return cls(method.upper(), path, parse_qs(qs, keep_blank_values=True), headers, body)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str | None = None) -> str | None:
        # http.server's headers are case-insensitive; a plain dict (tests) may not be.
        value = self.headers.get(name)
        if value is None:
            lowered = name.lower()
            for key, val in self.headers.items():
                if key.lower() == lowered:
                    return val
        return default if value is None else value

    def json(self) -> Any:
        """Parse the body as JSON; raise :class:`BadJson` so each API can word the error its way."""
        if not self.body:
            raise BadJson("empty body")
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadJson(str(exc)) from exc


class BadJson(ValueError):
    """The request body is not the JSON the endpoint expects."""


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> "Response":
        out = {"Content-Type": "application/json;charset=UTF-8"}
        out.update(headers or {})
        return cls(status, json.dumps(payload, separators=(",", ":")).encode("utf-8"), out)

    @classmethod
    def empty(cls, status: int = 204, headers: Mapping[str, str] | None = None) -> "Response":
        return cls(status, b"", dict(headers or {}))

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain;charset=UTF-8") -> "Response":
        return cls(status, text.encode("utf-8"), {"Content-Type": content_type})


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    family: str          # counter bucket, e.g. "salesforce.query"
    auth: str | None     # "salesforce", "hubspot", "admin" or None for public endpoints


class Router:
    """Routes are tried in registration order; ``{name}`` matches one path segment."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, handler: Handler, *, family: str,
            auth: str | None, first: bool = False) -> None:
        """Add a route; ``first`` puts it ahead of those already added (a specific path that a
        generic pattern, such as ``/sobjects/{sobject}/``, would otherwise catch)."""
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        route = Route(method.upper(), re.compile(f"^{regex}$"), handler, family, auth)
        if first:
            self.routes.insert(0, route)
        else:
            self.routes.append(route)

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """Return (route, params, path_known); path_known tells 404 from 405."""
        path_known = False
        for route in self.routes:
            m = route.pattern.match(path)
            if m:
                path_known = True
                if route.method == method:
                    return route, m.groupdict(), True
        return None, {}, path_known
