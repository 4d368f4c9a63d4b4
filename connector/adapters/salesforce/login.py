"""Logging in to Salesforce: one function per way an admin can configure it.

Every mode ends in a ``simple_salesforce.Salesforce`` on our session. The JWT bearer flow is
simple-salesforce's own (``Salesforce(username=, consumer_key=, privatekey_file=, domain=)``:
it signs a fresh RS256 assertion, valid 3 minutes, at every login, reading the key file each
time so a rotated key is picked up). The refresh-token grant is not in simple-salesforce, so
it is posted here (``POST /services/oauth2/token``, ``grant_type=refresh_token``, Salesforce
Help "OAuth 2.0 Refresh Token Flow") and the session built from the access token it returns.

Salesforce's token replies carry no lifetime (the org's session timeout applies, at least
15 minutes: Setup > Session Settings), so a session from a renewable login is renewed once
it is :data:`RENEW_AFTER` old, before any org could have expired it, and on a 401 (the
client's ``_call``). Error text carries Salesforce's ``error`` and ``error_description``
(its words about the grant), never a secret, a key path's contents or an assertion.
"""

from __future__ import annotations

from typing import Any

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed

from connector.config.auth import DEFAULT_LOGIN_URL, login_domain
from connector.config.settings import SalesforceSettings
from connector.errors import ApiError, AuthError

RENEW_AFTER = 10 * 60   # seconds; under the shortest session timeout an org may set (15 min)
RENEWABLE = ("password", "client_credentials", "jwt", "refresh_token")


def mode_of(s: SalesforceSettings) -> str:
    """The configured ``auth``, or the one the credentials imply (as before ``auth`` existed)."""
    if s.auth:
        return s.auth
    if s.access_token:
        return "access_token"
    if s.consumer_key and s.consumer_secret:
        return "client_credentials"
    return "password"


def connect(s: SalesforceSettings, session: requests.Session, common: dict[str, Any]) -> Salesforce:
    """A logged-in ``Salesforce``; AuthError when the org refuses, ApiError when unreachable."""
    mode = mode_of(s)
    try:
        if mode == "access_token":
            token = s.access_token.reveal() if s.access_token else ""
            return Salesforce(instance_url=s.instance_url, session_id=token, **common)
        if mode == "refresh_token":
            return _refresh_token_login(s, session, common)
        domain = _domain(s)
        if mode == "jwt":
            return Salesforce(username=s.username, consumer_key=s.consumer_key,
                              privatekey_file=s.private_key_file, domain=domain, **common)
        if mode == "client_credentials":
            return Salesforce(consumer_key=s.consumer_key,
                              consumer_secret=s.consumer_secret.reveal() if s.consumer_secret else "",
                              domain=domain, **common)
        return Salesforce(username=s.username, password=s.password.reveal() if s.password else "",
                          security_token=s.security_token.reveal() if s.security_token else "",
                          domain=domain, **common)
    except SalesforceAuthenticationFailed as exc:
        # simple-salesforce's code and message are the server's words (error and
        # error_description), never our password, secret or assertion.
        raise AuthError(f"Salesforce login refused ({mode}): {exc.code}: "
                        f"{_short(getattr(exc, 'auth_message', ''))}",
                        service="salesforce", code=str(exc.code)) from None
    except requests.RequestException as exc:   # before OSError: it is one
        raise ApiError(f"cannot reach Salesforce at {s.instance_url}: {type(exc).__name__}",
                       service="salesforce") from None
    except OSError as exc:   # the JWT key file vanished or became unreadable since start
        raise AuthError(f"Salesforce login ({mode}): cannot read the private key file: "
                        f"{exc.strerror or type(exc).__name__}", service="salesforce") from None


def _domain(s: SalesforceSettings) -> str:
    """simple-salesforce's ``domain``: the login URL's, else the instance's My Domain (the
    client-credentials flow refuses ``login``); for the sandbox any name does, since its
    adapter reroutes every host, unless a login URL is named (the JWT audience uses it)."""
    if s.login_url:
        return login_domain(s.login_url)
    if s.instance_url.startswith("http://"):
        return "login" if mode_of(s) == "jwt" else "sandbox"
    if mode_of(s) == "jwt":
        return login_domain(DEFAULT_LOGIN_URL)
    return login_domain(s.instance_url)


def _refresh_token_login(s: SalesforceSettings, session: requests.Session,
                         common: dict[str, Any]) -> Salesforce:
    """The refresh-token grant: client id and secret in the form body, as Salesforce's
    "OAuth 2.0 Refresh Token Flow" shows; the reply's ``instance_url`` is the org's."""
    host = s.login_url or s.instance_url
    form = {"grant_type": "refresh_token", "client_id": s.consumer_key or "",
            "client_secret": s.consumer_secret.reveal() if s.consumer_secret else "",
            "refresh_token": s.refresh_token.reveal() if s.refresh_token else ""}
    reply = session.post(f"{host}/services/oauth2/token", data=form, timeout=60)
    try:
        body = reply.json()
    except ValueError:
        body = {}
    if reply.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
        code = str(body.get("error") or reply.status_code) if isinstance(body, dict) else str(reply.status_code)
        described = body.get("error_description", "") if isinstance(body, dict) else ""
        raise SalesforceAuthenticationFailed(code, str(described))
    return Salesforce(instance_url=body.get("instance_url") or s.instance_url,
                      session_id=body["access_token"], **common)


def _short(text: Any) -> str:
    return " ".join(str(text or "").split())[:200]
