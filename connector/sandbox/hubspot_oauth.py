"""HubSpot's OAuth token endpoints, refresh grant only: ``POST /oauth/v1/token`` and the
date-versioned ``POST /oauth/2026-03/token`` (also under its ``v3`` name) that replaces it.

HubSpot sunsets the v1 OAuth API on 16 February 2027 ("v1 OAuth API Deprecation", developer
changelog; the migration guide names ``POST /oauth/2026-03/token``, form-encoded body
parameters, the same reply). The newer endpoint's errors follow RFC 6749 (``error``,
``error_description``) and keep HubSpot's ``status`` and ``message`` ("New OAuth v3 API
Endpoints and Standardized Error Responses": ``invalid_grant``, "refresh token is invalid,
expired or revoked", ``BAD_REFRESH_TOKEN``). Spec: ``PublicApiSpecs/Auth/Oauth/Rollouts/
279897/2026-03/oauth.json`` (docs/sandbox-wire-facts.md, section 11).

HubSpot's "Refresh an access token" (OAuth tokens API v1): a form-encoded POST with
``grant_type=refresh_token``, ``client_id``, ``client_secret`` and ``refresh_token``; the reply
is ``{"token_type": "bearer", "refresh_token", "access_token", "expires_in"}`` (seconds; the
fields of hubspot-api-client's ``TokenResponseIF``), with ``token_use`` (``access_token``), which
the OAuth v1 spec's ``AccessTokenResponse`` requires, and ``hub_id`` and ``scopes``, which
HubSpot added to every token reply from 18 August 2025 (developer changelog, "Additional
details returned when generating OAuth access tokens"). A refresh token HubSpot does not know
is a ``400`` with ``status`` ``BAD_REFRESH_TOKEN`` (sources: docs/sandbox-wire-facts.md,
section 11). The access token handed out is the sandbox's bearer token, the one every
HubSpot route checks, so a client that refreshed can call them.

The app's side is a dataset's ``hubspot.oauth``: ``client_id``, ``client_secret``,
``refresh_token`` (each, when given, must match; when absent, any non-empty value does, as
the Salesforce side's credentials) and ``expires_in`` (default 1800, HubSpot's 30 minutes).
"""

from __future__ import annotations

import uuid
from collections import deque
from typing import Any, Mapping, Protocol
from urllib.parse import parse_qs

from .http import Request, Response



class Portal(Protocol):
    """What the token endpoint needs from ``HubSpotApi``: the app (router, bearer token), the
    portal's id and the app's scopes."""

    app: Any
    portal_id: int

    def held_scopes(self) -> list[str]: ...

DEFAULT_EXPIRES_IN = 1800
_KEYS = {"client_id", "client_secret", "refresh_token", "expires_in"}


def parse(raw: Any) -> dict[str, Any]:
    """A dataset's ``hubspot.oauth``, checked; ValueError names the mistake."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError("oauth: expected an object")
    unknown = set(raw) - _KEYS
    if unknown:
        raise ValueError(f"oauth: unknown settings {sorted(unknown)}")
    expires = raw.get("expires_in", DEFAULT_EXPIRES_IN)
    if isinstance(expires, bool) or not isinstance(expires, int) or expires < 1:
        raise ValueError("oauth.expires_in: expected a positive number of seconds")
    return {**{k: str(v) for k, v in raw.items() if k != "expires_in"}, "expires_in": expires}


class HubSpotOAuth:
    """Registers the token endpoints and holds the app's OAuth settings."""

    def __init__(self, hubspot: Portal) -> None:
        self.hubspot = hubspot
        self.settings: dict[str, Any] = {}
        add = hubspot.app.router.add
        add("POST", "/oauth/v1/token/?", self._token, family="hubspot.oauth", auth=None)
        for path in ("/oauth/2026-03/token/?", "/oauth/v3/token/?"):
            add("POST", path, self._token_dated, family="hubspot.oauth", auth=None)
        self.paths: deque[str] = deque(maxlen=100)   # the token paths asked, latest last

    def _token_dated(self, req: Request) -> Response:
        return self._token(req, rfc=True)

    def _token(self, req: Request, rfc: bool = False) -> Response:
        self.paths.append(req.path)
        form = {k: v[0] for k, v in parse_qs(req.body.decode("utf-8", "replace"),
                                              keep_blank_values=True).items()}
        if form.get("grant_type") != "refresh_token":
            # [U] the sandbox serves the refresh grant only; the wording is ours.
            return self._error("BAD_GRANT_TYPE", "unsupported grant_type: only refresh_token is "
                               "emulated", "unsupported_grant_type" if rfc else None)
        for key in ("client_id", "client_secret"):
            if not self._matches(key, form.get(key)):
                # [U] HubSpot's status for a wrong client is not documented; ours names the key.
                return self._error(f"BAD_{key.upper()}", f"missing or invalid {key}",
                                   "invalid_client" if rfc else None)
        if not self._matches("refresh_token", form.get("refresh_token")):
            if rfc:                        # the changelog's example, word for word
                return self._error("BAD_REFRESH_TOKEN", "refresh token is invalid, expired or "
                                   "revoked", "invalid_grant")
            return self._error("BAD_REFRESH_TOKEN", "missing or invalid refresh token")
        hubspot = self.hubspot
        return Response.json(200, {"token_type": "bearer", "refresh_token": form["refresh_token"],
                                   "access_token": hubspot.app.token,
                                   "expires_in": self.settings.get("expires_in",
                                                                   DEFAULT_EXPIRES_IN),
                                   "token_use": "access_token", "hub_id": hubspot.portal_id,
                                   "scopes": hubspot.held_scopes()})

    def _matches(self, key: str, given: str | None) -> bool:
        expected = self.settings.get(key)
        return bool(given) if expected is None else given == expected

    @staticmethod
    def _error(status: str, message: str, error: str | None = None) -> Response:
        """HubSpot's ``status``/``message``; on the dated endpoint also RFC 6749's ``error``
        and ``error_description``."""
        body: dict[str, Any] = {"status": status, "message": message,
                                "correlationId": str(uuid.uuid4())}
        if error is not None:
            body = {"error": error, "error_description": message, **body}
        return Response.json(400, body)
