"""Issue 22: logging in through the JWT bearer and refresh-token flows, against the sandbox.

Real clients, unchanged: simple-salesforce signs the JWT assertions (its own JWT support),
hubspot-api-client's token API is pointed at the sandbox's /oauth/v1/token, and leadsync's
adapters log in through each flow. A throwaway RSA key is made per test module.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed

from conftest import sandbox_session
from connector.adapters.hubspot.forms import HubSpotClient
from connector.adapters.salesforce import login
from connector.adapters.salesforce.client import SalesforceClient
from connector.adapters.transport import RetryPolicy
from connector.config.settings import settings_from_dict
from connector.errors import AuthError
from connector.sandbox import Sandbox
from connector.sandbox.sf_store import DatasetError

API_USER = "integration@leadsync.sandbox"     # the sandbox org's API user
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _key_pair() -> tuple[rsa.RSAPrivateKey, str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leadsync test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    return key, pem, cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    key, pem, cert = _key_pair()
    _, other_pem, _ = _key_pair()
    return {"key": key, "pem": pem, "cert": cert, "other_pem": other_pem}


@pytest.fixture
def jwt_org(sandbox: Sandbox, keys: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The sandbox with a connected app ``ck`` holding the test certificate."""
    sandbox.app.load({"salesforce": {"credentials": {"client_id": "ck",
                                                     "jwt_certificate": keys["cert"]}}})
    (tmp_path / "good.pem").write_text(keys["pem"])
    (tmp_path / "other.pem").write_text(keys["other_pem"])
    return {"sandbox": sandbox, "good": tmp_path / "good.pem", "other": tmp_path / "other.pem"}


def _jwt_settings(sandbox: Sandbox, key_file: Path, **extra: Any) -> Any:
    sf = {"instance_url": sandbox.url, "auth": "jwt", "consumer_key": "ck", "username": API_USER,
          "private_key_file": str(key_file), **extra}
    return settings_from_dict({"salesforce": sf, "hubspot": {"access_token": "x"},
                               "campaigns": [{"form_id": "f", "campaign_id": "c"}]}, env={})


def _assertion(key: Any, **claims: Any) -> str:
    body = {"iss": "ck", "sub": API_USER, "aud": "https://login.salesforce.com",
            "exp": str(int(time.time()) + 180), **claims}
    return jwt.encode(body, key, algorithm="RS256")


def _token(sandbox: Sandbox, **form: str) -> requests.Response:
    return requests.post(f"{sandbox.url}/services/oauth2/token", data=form, timeout=10)


# -- JWT bearer: the adapter, through simple-salesforce's JWT support ---------------------------

def test_jwt_login_through_the_adapter_reads_the_org(jwt_org):
    sandbox = jwt_org["sandbox"]
    client = SalesforceClient(_jwt_settings(sandbox, jwt_org["good"]).salesforce,
                              retry=RetryPolicy.fast())
    rows = client.query_all("SELECT Username FROM User WHERE IsActive = true")
    assert API_USER in {r["Username"] for r in rows}
    assert sandbox.counters["salesforce.auth"] == 1 and client.can_renew


def test_jwt_login_url_names_the_audience(jwt_org, keys):
    """login_url = https://test.salesforce.com (a sandbox org): simple-salesforce builds the
    audience from it, and the sandbox accepts both documented login hosts."""
    sandbox = jwt_org["sandbox"]
    settings = _jwt_settings(sandbox, jwt_org["good"], login_url="https://test.salesforce.com")
    assert login._domain(settings.salesforce) == "test"
    client = SalesforceClient(settings.salesforce, retry=RetryPolicy.fast())
    assert client.query_all("SELECT COUNT() FROM Lead") == []
    reply = _token(sandbox, grant_type=JWT_GRANT,
                   assertion=_assertion(keys["key"], aud="https://test.salesforce.com"))
    assert reply.status_code == 200 and reply.json()["access_token"] == sandbox.token


def test_mis_signed_assertion_is_refused_as_salesforce_does(jwt_org):
    sandbox = jwt_org["sandbox"]
    client = SalesforceClient(_jwt_settings(sandbox, jwt_org["other"]).salesforce,
                              retry=RetryPolicy.fast())
    with pytest.raises(AuthError) as err:
        client.query_all("SELECT Id FROM Lead")
    assert err.value.message == "Salesforce login refused (jwt): invalid_grant: invalid assertion"
    assert "PRIVATE KEY" not in str(err.value) and "eyJ" not in str(err.value)


def test_expired_assertion_is_refused(jwt_org, keys):
    sandbox = jwt_org["sandbox"]
    reply = _token(sandbox, grant_type=JWT_GRANT,
                   assertion=_assertion(keys["key"], exp=str(int(time.time()) - 5)))
    assert reply.status_code == 400
    assert reply.json() == {"error": "invalid_grant", "error_description": "expired authorization code"}
    # and through the adapter: the org's clock is an hour ahead, so simple-salesforce's
    # 3-minute assertion arrives expired
    sandbox.app.salesforce.grants.clock = lambda: time.time() + 3600
    try:
        client = SalesforceClient(_jwt_settings(sandbox, jwt_org["good"]).salesforce,
                                  retry=RetryPolicy.fast())
        with pytest.raises(AuthError, match="expired authorization code"):
            client.query_all("SELECT Id FROM Lead")
    finally:
        sandbox.app.salesforce.grants.clock = time.time


@pytest.mark.parametrize("claims, error, description", [
    ({"aud": "https://acme.my.salesforce.com"}, "invalid_grant", "audience is invalid"),
    ({"sub": "nobody@example.com"}, "invalid_grant", "user hasn't approved this consumer"),
    ({"iss": "another-app"}, "invalid_client_id", "client identifier invalid"),
    ({"exp": "soon"}, "invalid_grant", "invalid assertion"),
])
def test_bad_claims_get_salesforces_replies(jwt_org, keys, claims, error, description):
    reply = _token(jwt_org["sandbox"], grant_type=JWT_GRANT,
                   assertion=_assertion(keys["key"], **claims))
    assert reply.status_code == 400
    assert reply.json() == {"error": error, "error_description": description}


def test_inactive_user_cannot_log_in_by_jwt(jwt_org, keys):
    sandbox = jwt_org["sandbox"]
    sandbox.app.salesforce.add_user("Gone", username="gone@leadsync.sandbox", active=False)
    reply = _token(sandbox, grant_type=JWT_GRANT,
                   assertion=_assertion(keys["key"], sub="gone@leadsync.sandbox"))
    assert reply.json()["error_description"] == "user hasn't approved this consumer"


def test_garbage_assertion_and_bad_certificate_dataset(jwt_org):
    sandbox = jwt_org["sandbox"]
    reply = _token(sandbox, grant_type=JWT_GRANT, assertion="not-a-jwt")
    assert reply.json() == {"error": "invalid_grant", "error_description": "invalid assertion"}
    with pytest.raises(DatasetError, match="jwt_certificate"):
        sandbox.app.load({"salesforce": {"credentials": {"jwt_certificate": "-----BEGIN nope"}}})


def test_simple_salesforce_itself_logs_in_by_jwt(jwt_org):
    """The library call of the issue, unchanged, against the sandbox."""
    sandbox = jwt_org["sandbox"]
    sf = Salesforce(username=API_USER, consumer_key="ck", privatekey_file=str(jwt_org["good"]),
                    domain="test", session=sandbox_session(sandbox.url))
    assert sf.session_id == sandbox.token and sf.auth_type == "jwt-bearer"
    with pytest.raises(SalesforceAuthenticationFailed) as err:
        Salesforce(username=API_USER, consumer_key="ck", privatekey_file=str(jwt_org["other"]),
                   session=sandbox_session(sandbox.url))
    assert (err.value.code, err.value.auth_message) == ("invalid_grant", "invalid assertion")


# -- renewal ------------------------------------------------------------------------------------

def test_jwt_session_is_renewed_before_it_can_expire_and_on_a_401(jwt_org):
    sandbox = jwt_org["sandbox"]
    now = [1000.0]
    client = SalesforceClient(_jwt_settings(sandbox, jwt_org["good"]).salesforce,
                              retry=RetryPolicy.fast(), clock=lambda: now[0])
    client.query_all("SELECT Id FROM Lead")
    now[0] += login.RENEW_AFTER - 1
    client.query_all("SELECT Id FROM Lead")
    assert sandbox.counters["salesforce.auth"] == 1          # still young: no new login
    now[0] += 2
    client.query_all("SELECT Id FROM Lead")
    assert sandbox.counters["salesforce.auth"] == 2          # renewed before any org timeout
    sandbox.app.token = "rotated-by-the-org"                 # the org ends the session early
    try:
        client.query_all("SELECT Id FROM Lead")
        assert sandbox.counters["salesforce.auth"] == 3
        assert client.sf.session_id == "rotated-by-the-org"
    finally:
        sandbox.app.token = "00Dsandbox!TOKEN"


# -- Salesforce refresh token -------------------------------------------------------------------

def _refresh_settings(sandbox: Sandbox, token: str) -> Any:
    sf = {"instance_url": sandbox.url, "auth": "refresh_token", "consumer_key": "ck"}
    env = {"LEADSYNC_SALESFORCE_CONSUMER_SECRET": "cs-secret-value",
           "LEADSYNC_SALESFORCE_REFRESH_TOKEN": token}
    return settings_from_dict({"salesforce": sf, "hubspot": {"access_token": "x"},
                               "campaigns": [{"form_id": "f", "campaign_id": "c"}]}, env=env)


def test_salesforce_refresh_token_login_and_refusal(sandbox):
    sandbox.app.load({"salesforce": {"credentials": {
        "client_id": "ck", "client_secret": "cs-secret-value", "refresh_token": "5Aep-rt-secret"}}})
    client = SalesforceClient(_refresh_settings(sandbox, "5Aep-rt-secret").salesforce,
                              retry=RetryPolicy.fast())
    assert client.query_all("SELECT COUNT() FROM Lead") == [] and client.can_renew
    sandbox.app.token = "rotated"
    try:
        client.query_all("SELECT COUNT() FROM Lead")           # 401, refreshed, repeated
        assert sandbox.counters["salesforce.auth"] == 2
    finally:
        sandbox.app.token = "00Dsandbox!TOKEN"
    bad = SalesforceClient(_refresh_settings(sandbox, "revoked-rt-secret").salesforce,
                           retry=RetryPolicy.fast())
    with pytest.raises(AuthError) as err:
        bad.query_all("SELECT Id FROM Lead")
    text = str(err.value)
    assert err.value.message == ("Salesforce login refused (refresh_token): invalid_grant: "
                    "expired access/refresh token")
    assert "secret" not in text
    reply = _token(sandbox, grant_type="refresh_token", client_id="ck", client_secret="wrong",
                   refresh_token="5Aep-rt-secret")
    assert reply.json() == {"error": "invalid_client", "error_description": "invalid client credentials"}


# -- HubSpot refresh token ----------------------------------------------------------------------

def _hubspot(sandbox: Sandbox, token: str, **kw: Any) -> HubSpotClient:
    hs = {"base_url": sandbox.url, "auth": "refresh_token", "client_id": "hs-client"}
    env = {"LEADSYNC_HUBSPOT_CLIENT_SECRET": "hs-secret-value",
           "LEADSYNC_HUBSPOT_REFRESH_TOKEN": token, "LEADSYNC_SALESFORCE_ACCESS_TOKEN": "x"}
    settings = settings_from_dict({"salesforce": {"instance_url": sandbox.url}, "hubspot": hs,
                                   "campaigns": [{"form_id": "f", "campaign_id": "c"}]}, env=env)
    return HubSpotClient(settings.hubspot, retry=RetryPolicy.fast(), **kw)


def test_hubspot_refresh_token_login_renewal_and_refusal(sandbox):
    sandbox.app.load({"hubspot": {"oauth": {"client_id": "hs-client", "client_secret": "hs-secret-value",
                                            "refresh_token": "hs-rt-secret", "expires_in": 1800}}})
    form = sandbox.app.hubspot.create_form("Contact us")
    client = _hubspot(sandbox, "hs-rt-secret")
    assert client.tokens is not None
    now = [0.0]
    client.tokens.clock = lambda: now[0]
    assert form in client.form_names()
    assert client.tokens.refreshes == 1
    client.form_names()
    assert client.tokens.refreshes == 1                      # the token is still young
    now[0] += 1800 - 5 * 60                                  # 5 minutes before expires_in
    client.form_names()
    assert client.tokens.refreshes == 2
    sandbox.app.token = "hs-rotated"                         # HubSpot ends the token early
    try:
        assert form in client.form_names()
        assert client.tokens.refreshes == 3
    finally:
        sandbox.app.token = "00Dsandbox!TOKEN"
    # every refresh on the date-versioned endpoint (v1's stops on 16 February 2027)
    assert list(sandbox.app.hubspot.oauth.paths) == ["/oauth/2026-03/token"] * 3
    with pytest.raises(AuthError) as err:
        _hubspot(sandbox, "hs-revoked-secret").form_names()
    text = str(err.value)
    assert "invalid_grant BAD_REFRESH_TOKEN" in text and "secret" not in text
    assert "refresh token is invalid, expired or revoked" in text


def test_the_dated_token_endpoint_answers_rfc_6749_errors_beside_hubspots_own():
    """HubSpot's changelog ("New OAuth v3 API Endpoints and Standardized Error Responses"):
    ``error`` and ``error_description`` join ``status`` and ``message``; v1 keeps its own."""
    from connector.sandbox import Sandbox

    with Sandbox(token="t") as sb:
        sb.app.load({"hubspot": {"oauth": {"refresh_token": "good"}}})
        form = {"grant_type": "refresh_token", "client_id": "c", "client_secret": "s",
                "refresh_token": "bad"}
        for path in ("/oauth/2026-03/token", "/oauth/v3/token"):
            reply = requests.post(sb.url + path, data=form, timeout=10)
            body = reply.json()
            assert reply.status_code == 400 and body["error"] == "invalid_grant"
            assert body["status"] == "BAD_REFRESH_TOKEN"
            assert body["error_description"] == body["message"] == \
                "refresh token is invalid, expired or revoked"
            good = requests.post(sb.url + path, data={**form, "refresh_token": "good"},
                                 timeout=10).json()
            assert good["access_token"] == "t" and good["token_use"] == "access_token"
        legacy = requests.post(sb.url + "/oauth/v1/token", data=form, timeout=10).json()
        assert legacy["status"] == "BAD_REFRESH_TOKEN" and "error" not in legacy


def test_hubspot_api_client_refreshes_against_the_sandbox(sandbox):
    """hubspot-api-client's own OAuth call (TokensApi.create), unchanged, pointed at the sandbox."""
    import hubspot  # type: ignore[import-untyped]

    sandbox.app.load({"hubspot": {"oauth": {"refresh_token": "hs-rt"}}})
    api = hubspot.Client.create(host=sandbox.url)
    reply = api.oauth.tokens_api.create(grant_type="refresh_token", client_id="id",
                                        client_secret="secret", refresh_token="hs-rt")
    assert reply.access_token == sandbox.token and reply.expires_in == 1800
    assert reply.token_type == "bearer" and reply.refresh_token == "hs-rt"
    sandbox.app.hubspot.grant_only("oauth", "forms")     # the reply lists the app's scopes
    raw = requests.post(f"{sandbox.url}/oauth/v1/token", timeout=10, data={
        "grant_type": "refresh_token", "client_id": "id", "client_secret": "s",
        "refresh_token": "hs-rt"}).json()
    assert raw["token_use"] == "access_token" and raw["hub_id"] == sandbox.app.hubspot.portal_id
    assert raw["scopes"] == ["forms", "oauth"]
    sandbox.app.hubspot.grant_all_scopes()               # every scope: those it models
    assert api.oauth.tokens_api.create(grant_type="refresh_token", client_id="id",
                                       client_secret="secret", refresh_token="hs-rt").access_token
    raw = requests.post(f"{sandbox.url}/oauth/v1/token", timeout=10, data={
        "grant_type": "refresh_token", "client_id": "id", "client_secret": "s",
        "refresh_token": "hs-rt"}).json()
    assert {"forms", "crm.objects.contacts.read", "crm.objects.contacts.write"} <= set(raw["scopes"])
    bad = requests.post(f"{sandbox.url}/oauth/v1/token", timeout=10, data={
        "grant_type": "refresh_token", "client_id": "id", "client_secret": "s", "refresh_token": "no"})
    assert bad.status_code == 400 and bad.json()["status"] == "BAD_REFRESH_TOKEN"
