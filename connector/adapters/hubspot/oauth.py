"""HubSpot access tokens from an OAuth app's refresh token (``[hubspot] auth = "refresh_token"``).

HubSpot's "Refresh an access token", on the date-versioned OAuth API: ``POST
/oauth/2026-03/token`` (:data:`TOKEN_PATH`; the v1 path it replaces stops working on 16 February
2027), form-encoded, with ``grant_type=refresh_token``, ``client_id``, ``client_secret`` and
``refresh_token``; the reply's
``expires_in`` (seconds, 30 minutes today) says when the access token stops working. The
token is renewed :data:`MARGIN` before that, so a page read never starts with a token about
to lapse, and once more on a 401 (HubSpot may end a token early, e.g. the app reinstalled).

Sent through the adapter's own session (timeouts, proxies, the sandbox's routing); the
forms are paged from several threads, so one lock makes sure one refresh serves them all.
Error text carries the reply's RFC 6749 ``error`` and HubSpot's ``status`` and ``message``,
never the client secret or a token.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import requests

from connector.config.settings import HubSpotSettings
from connector.errors import ApiError, AuthError, TransientError

TOKEN_PATH = "/oauth/2026-03/token"   # HubSpot's migration guide from /oauth/v1/token
MARGIN = 5 * 60     # seconds before expires_in at which the token is renewed
MINIMUM_LIFE = 30   # a reply claiming less is treated as this (never refresh in a loop)


class RefreshTokens:
    """The current access token, refreshed before it expires and when HubSpot refuses it."""

    def __init__(self, settings: HubSpotSettings, session: requests.Session, *,
                 timeout: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.session = session
        self.timeout = timeout
        self.clock = clock
        self.refreshes = 0
        # The scopes the last reply listed (HubSpot sends them since August 2025); None when
        # it did not: ``mappings check`` then tries each scope with a read instead.
        self.scopes: tuple[str, ...] | None = None
        self._token = ""
        self._renew_at = 0.0
        self._lock = threading.Lock()

    def current(self) -> str:
        """A token with at least ``MARGIN`` of life left (refreshing first if needed)."""
        with self._lock:
            if not self._token or self.clock() >= self._renew_at:
                self._refresh()
            return self._token

    def refused(self, token: str) -> None:
        """HubSpot answered 401 to ``token``: the next ``current()`` refreshes, unless another
        thread already did since that token was handed out."""
        with self._lock:
            if token == self._token:
                self._token = ""

    def _refresh(self) -> None:
        s = self.settings
        form = {"grant_type": "refresh_token", "client_id": s.client_id or "",
                "client_secret": s.client_secret.reveal() if s.client_secret else "",
                "refresh_token": s.refresh_token.reveal() if s.refresh_token else ""}
        try:
            reply = self.session.post(f"{s.base_url}{TOKEN_PATH}", data=form,
                                      timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(f"HubSpot token refresh: {type(exc).__name__}") from None
        try:
            body = reply.json()
        except ValueError:
            body = {}
        if reply.status_code == 429 or reply.status_code >= 500:
            raise TransientError(f"HubSpot token refresh: {reply.status_code}",
                                 status=reply.status_code)
        if reply.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
            body = body if isinstance(body, dict) else {}
            # RFC 6749's error (invalid_grant) beside HubSpot's own status (BAD_REFRESH_TOKEN)
            what = " ".join(dict.fromkeys(str(body[k]) for k in ("error", "status") if body.get(k)))
            message = body.get("message") or body.get("error_description")
            text = " ".join(str(message or reply.reason or "").split())[:200]
            if reply.status_code in (400, 401, 403):
                raise AuthError(f"HubSpot refused the refresh token ({reply.status_code} "
                                f"{what or 'error'}): {text}", service="hubspot",
                                status=reply.status_code)
            raise ApiError(f"HubSpot token refresh failed ({reply.status_code}): {text}",
                           service="hubspot", status=reply.status_code)
        life = body.get("expires_in")
        life = life if isinstance(life, (int, float)) and not isinstance(life, bool) else 1800
        self._token = str(body["access_token"])
        scopes = body.get("scopes")
        if isinstance(scopes, list) and all(isinstance(x, str) for x in scopes):
            self.scopes = tuple(scopes)
        self._renew_at = self.clock() + max(MINIMUM_LIFE, life - MARGIN)
        self.refreshes += 1
