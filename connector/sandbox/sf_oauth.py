"""The Salesforce token endpoint's JWT bearer and refresh-token grants.

``POST /services/oauth2/token`` with ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``
and an RS256 ``assertion`` (RFC 7523; Salesforce Help "OAuth 2.0 JWT Bearer Flow for
Server-to-Server Integration"), or ``grant_type=refresh_token`` with the connected app's
client id and secret ("OAuth 2.0 Refresh Token Flow"). The org's side of the JWT flow is
the connected app's certificate: a dataset's ``salesforce.credentials.jwt_certificate``
(PEM, an X.509 certificate or a bare public key), checked when the dataset is loaded.

Refusals are Salesforce's, each a ``400`` with ``error`` and ``error_description`` (sources
in docs/sandbox-wire-facts.md, section 11): a signature the certificate does not verify
``invalid_grant``/``invalid assertion``; an audience other than the login hosts
``invalid_grant``/``audience is invalid``; an ``exp`` in the past ``invalid_grant``/``expired
authorization code``; a subject that is no active user ``invalid_grant``/``user hasn't
approved this consumer`` (Salesforce words an unknown and an unapproved user alike); an
issuer that is not the app's consumer key ``invalid_client_id``/``client identifier invalid``.
A bad refresh token is ``invalid_grant``/``expired access/refresh token``.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Protocol

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from .http import Response
from .sf_store import DatasetError



class OrgLogins(Protocol):
    """What the grants need from ``SalesforceApi`` (a Protocol: the sandbox has no import
    cycles, a test keeps it so)."""

    app: Any
    credentials: dict[str, str]

    def records(self, sobject: str) -> list[dict[str, Any]]:
        ...

    def _check_login(self, **given: str | None) -> bool:
        ...

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# The audiences Salesforce documents for the JWT flow: production and sandbox login hosts
# (an Experience Cloud site's URL is the third kind; the sandbox has none). The sandbox's
# own URL is accepted too, for clients that put the token endpoint's host there.
AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


def public_key(pem: str) -> RSAPublicKey:
    """The RSA public key of a PEM certificate or public key; DatasetError if it is neither."""
    data = pem.encode("utf-8")
    try:
        key: Any = (x509.load_pem_x509_certificate(data).public_key()
                    if b"CERTIFICATE" in data else serialization.load_pem_public_key(data))
    except ValueError as exc:
        raise DatasetError(f"credentials.jwt_certificate: not a PEM certificate or public key "
                           f"({exc})") from None
    if not isinstance(key, RSAPublicKey):
        raise DatasetError("credentials.jwt_certificate: the JWT flow signs with RS256, so the "
                           "certificate must hold an RSA key")
    return key


def _refusal(error: str, description: str) -> Response:
    return Response.json(400, {"error": error, "error_description": description})


class TokenGrants:
    """The two grants over the Salesforce API's credentials, users and token reply."""

    def __init__(self, api: OrgLogins, clock: Callable[[], float] = time.time) -> None:
        self.api = api
        self.clock = clock

    def handle(self, grant: str, form: Mapping[str, str],
               client: tuple[str | None, str | None]) -> Response | None:
        """The refusal for this request, or None when the grant is good (the caller then
        sends the usual token reply)."""
        if grant == JWT_BEARER:
            return self._jwt(form.get("assertion") or "")
        return self._refresh(form, client)

    # -- JWT bearer ----------------------------------------------------------------------------
    def _jwt(self, assertion: str) -> Response | None:
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return _refusal("invalid_grant", "invalid assertion")
        creds = self.api.credentials
        expected_iss = creds.get("client_id")
        if not claims.get("iss") or (expected_iss is not None and claims["iss"] != expected_iss):
            return _refusal("invalid_client_id", "client identifier invalid")
        pem = creds.get("jwt_certificate")
        if pem is not None:
            try:
                jwt.decode(assertion, public_key(pem), algorithms=["RS256"],
                           options={"verify_exp": False, "verify_aud": False,
                                    "verify_iat": False, "verify_nbf": False})
            except jwt.PyJWTError:
                return _refusal("invalid_grant", "invalid assertion")
        if claims.get("aud") not in (*AUDIENCES, self.api.app.base_url):
            return _refusal("invalid_grant", "audience is invalid")
        try:
            # simple-salesforce sends exp as a string of seconds, as Salesforce's own example does
            expires = float(claims.get("exp"))   # type: ignore[arg-type]
        except (TypeError, ValueError):
            return _refusal("invalid_grant", "invalid assertion")
        if expires <= self.clock():
            return _refusal("invalid_grant", "expired authorization code")
        if not self._active_user(str(claims.get("sub") or "")):
            return _refusal("invalid_grant", "user hasn't approved this consumer")
        return None

    def _active_user(self, username: str) -> bool:
        wanted = username.strip().lower()
        return any(str(row.get("Username") or "").lower() == wanted and row.get("IsActive", True)
                   for row in self.api.records("User"))

    # -- refresh token -------------------------------------------------------------------------
    def _refresh(self, form: Mapping[str, str], client: tuple[str | None, str | None]) -> Response | None:
        client_id, client_secret = client
        if not self.api._check_login(client_id=client_id, client_secret=client_secret):
            return _refusal("invalid_client", "invalid client credentials")
        if not self.api._check_login(refresh_token=form.get("refresh_token")):
            return _refusal("invalid_grant", "expired access/refresh token")
        return None
