"""How leadsync logs in to each vendor: the ``auth`` key of ``[salesforce]`` and ``[hubspot]``.

Each section names its login explicitly (``auth = "jwt"``) or, without ``auth``, keeps what
it did before the key existed: the credentials present decide (access token, then client
credentials, then username + password for Salesforce; the private app token for HubSpot).
So an existing configuration behaves exactly as it did, and a new one can say what it means.

Long-lived secrets never need to be in the file: refresh tokens are read from the
environment only (a refresh token is a password that does not expire; a committed config
must not be able to hold one), and the JWT private key stays in its own file, which is read
by simple-salesforce at each login and never copied into settings, state or messages.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from connector.config import validate as v
from connector.errors import ConfigError

SALESFORCE_AUTH = ("access_token", "password", "client_credentials", "jwt", "refresh_token")
HUBSPOT_AUTH = ("private_app", "refresh_token")
DEFAULT_LOGIN_URL = "https://login.salesforce.com"

# Secrets read from the environment only (never a key of the file).
ENV_ONLY = {
    ("salesforce", "refresh_token"): "LEADSYNC_SALESFORCE_REFRESH_TOKEN",
    ("hubspot", "refresh_token"): "LEADSYNC_HUBSPOT_REFRESH_TOKEN",
}


def salesforce_mode(sf: Mapping[str, Any], *, require_secrets: bool) -> str:
    """The Salesforce login to use: ``auth`` if given, else inferred as before it existed."""
    if "auth" in sf:
        return v.choice(sf["auth"], "salesforce.auth", SALESFORCE_AUTH)
    if sf.get("access_token"):
        return "access_token"
    if sf.get("consumer_key") and sf.get("consumer_secret"):
        return "client_credentials"
    if sf.get("username") and sf.get("password"):
        return "password"
    if require_secrets:
        raise ConfigError("missing: set access_token (or LEADSYNC_SALESFORCE_ACCESS_TOKEN), "
                          "or username + password (+ security_token), or consumer_key + "
                          "consumer_secret, or auth = \"jwt\" / \"refresh_token\"",
                          key="salesforce.access_token")
    return "access_token"


def check_salesforce(mode: str, sf: Mapping[str, Any], *, require_secrets: bool) -> None:
    """Each explicit mode's keys, named by key when one is missing (exit code 2)."""
    needs: dict[str, tuple[tuple[str, str], ...]] = {
        "access_token": (("access_token", "or LEADSYNC_SALESFORCE_ACCESS_TOKEN"),),
        "password": (("username", ""), ("password", "or LEADSYNC_SALESFORCE_PASSWORD")),
        "client_credentials": (("consumer_key", ""),
                               ("consumer_secret", "or LEADSYNC_SALESFORCE_CONSUMER_SECRET")),
        "jwt": (("consumer_key", "the connected app's consumer key"),
                ("username", "the Salesforce user the daemon acts as"),
                ("private_key_file", "the PEM private key whose certificate the app holds")),
        "refresh_token": (("consumer_key", ""),
                          ("consumer_secret", "or LEADSYNC_SALESFORCE_CONSUMER_SECRET"),
                          ("refresh_token", "set LEADSYNC_SALESFORCE_REFRESH_TOKEN")),
    }
    for key, hint in needs[mode]:
        secret = key in ("access_token", "password", "consumer_secret", "refresh_token")
        if secret and not require_secrets:
            continue
        if not sf.get(key):
            why = f" ({hint})" if hint else ""
            raise ConfigError(f'is required with auth = "{mode}"{why}', key=f"salesforce.{key}")


def private_key_path(raw: Any, base: Path | None, *, require_secrets: bool) -> str | None:
    """``private_key_file``: relative to the config file's folder, and readable when a login
    is coming (a missing key is a configuration mistake, found before the first run)."""
    if raw is None:
        return None
    path = Path(v.path_text(raw, "salesforce.private_key_file")).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    if require_secrets:
        try:
            head = path.read_bytes()[:64]
        except OSError as exc:
            raise ConfigError(f"cannot read the private key file {path}: {exc.strerror}",
                              key="salesforce.private_key_file") from None
        if b"PRIVATE KEY" not in head:
            raise ConfigError(f"{path} is not a PEM private key (-----BEGIN ... PRIVATE KEY-----)",
                              key="salesforce.private_key_file")
    return str(path)


def login_url(raw: Any) -> str | None:
    """``login_url``: where logins go, ``https://login.salesforce.com`` (production, the
    default), ``https://test.salesforce.com`` (sandboxes) or a My Domain; a base URL only."""
    if raw is None:
        return None
    if not isinstance(raw, str) or not re.match(r"^https?://[^/\s]+/?$", raw):
        raise ConfigError("must be a login base URL such as https://test.salesforce.com",
                          key="salesforce.login_url")
    return raw.rstrip("/")


def login_domain(url: str) -> str:
    """The ``domain`` simple-salesforce wants (it builds ``https://{domain}.salesforce.com``):
    ``test`` for https://test.salesforce.com, ``acme.my`` for a My Domain. The JWT's audience
    is built from it too, so it must be the login host, not the instance."""
    host = urlsplit(url).hostname or ""
    return host[: -len(".salesforce.com")] if host.endswith(".salesforce.com") else "login"


def hubspot_mode(hs: Mapping[str, Any]) -> str:
    return v.choice(hs.get("auth", "private_app"), "hubspot.auth", HUBSPOT_AUTH)


def check_hubspot(mode: str, hs: Mapping[str, Any], *, require_secrets: bool) -> None:
    if not require_secrets:
        return
    if mode == "private_app":
        if not hs.get("access_token"):
            raise ConfigError("missing: set it or LEADSYNC_HUBSPOT_ACCESS_TOKEN (a private app "
                              'token), or auth = "refresh_token"', key="hubspot.access_token")
        return
    for key, hint in (("client_id", "the app's client id"),
                      ("client_secret", "or LEADSYNC_HUBSPOT_CLIENT_SECRET"),
                      ("refresh_token", "set LEADSYNC_HUBSPOT_REFRESH_TOKEN")):
        if not hs.get(key):
            raise ConfigError(f'is required with auth = "refresh_token" ({hint})',
                              key=f"hubspot.{key}")
