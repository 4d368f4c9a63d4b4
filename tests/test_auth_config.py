"""Issue 22: the ``auth`` keys, their validation, and secrets kept out of every output.

The end-to-end run logs in to Salesforce by JWT and to HubSpot by refresh token against the
sandbox, then reads the report, the state file and the settings' repr for any secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connector.adapters.salesforce import login
from connector.adapters.transport import RetryPolicy
from connector.config.settings import load_settings, settings_from_dict
from connector.engine.wiring import Session
from connector.errors import ConfigError
from connector.sandbox import Sandbox
from sync_helpers import Org, WORLD_START

CAMPAIGNS = [{"form_id": "f", "campaign_id": "c"}]


def _settings(sf: dict[str, Any], hs: dict[str, Any] | None = None, env: dict[str, str] | None = None,
              **kw: Any) -> Any:
    return settings_from_dict({"salesforce": {"instance_url": "https://acme.my.salesforce.com", **sf},
                               "hubspot": hs if hs is not None else {"access_token": "pat"},
                               "campaigns": CAMPAIGNS}, env=env or {}, **kw)


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("keys") / "server.key"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    return path


def test_existing_configurations_keep_their_login(key_file):
    assert login.mode_of(_settings({"access_token": "t"}).salesforce) == "access_token"
    cc = _settings({"consumer_key": "ck", "consumer_secret": "cs"}).salesforce
    assert login.mode_of(cc) == "client_credentials" and cc.auth is None
    assert login._domain(cc) == "acme.my"                     # the My Domain, as before
    pw = _settings({"username": "u", "password": "p"}).salesforce
    assert login.mode_of(pw) == "password"
    assert _settings({"access_token": "t"}).hubspot.auth == "private_app"


def test_jwt_keys_and_login_url(key_file):
    s = _settings({"auth": "jwt", "consumer_key": "ck", "username": "api@acme.com",
                   "private_key_file": str(key_file),
                   "login_url": "https://test.salesforce.com/"}).salesforce
    assert (s.auth, s.login_url, s.private_key_file) == ("jwt", "https://test.salesforce.com", str(key_file))
    assert login._domain(s) == "test"
    prod = _settings({"auth": "jwt", "consumer_key": "ck", "username": "u",
                      "private_key_file": str(key_file)}).salesforce
    assert login._domain(prod) == "login"                     # aud https://login.salesforce.com


@pytest.mark.parametrize("sf, key", [
    ({"auth": "jwt", "username": "u", "private_key_file": "k.pem"}, "salesforce.consumer_key"),
    ({"auth": "jwt", "consumer_key": "ck", "private_key_file": "k.pem"}, "salesforce.username"),
    ({"auth": "jwt", "consumer_key": "ck", "username": "u"}, "salesforce.private_key_file"),
    ({"auth": "jwt", "consumer_key": "ck", "username": "u", "private_key_file": "/nope.pem"},
     "salesforce.private_key_file"),
    ({"auth": "refresh_token", "consumer_key": "ck", "consumer_secret": "cs"},
     "salesforce.refresh_token"),
    ({"auth": "magic"}, "salesforce.auth"),
    ({"access_token": "t", "login_url": "test.salesforce.com"}, "salesforce.login_url"),
])
def test_salesforce_auth_mistakes_name_their_key(sf, key):
    with pytest.raises(ConfigError) as err:
        _settings(sf)
    assert err.value.key == key and err.value.exit_code == 2


def test_a_private_key_file_must_be_a_pem_key(tmp_path):
    cert = tmp_path / "app.crt"
    cert.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match="not a PEM private key"):
        _settings({"auth": "jwt", "consumer_key": "ck", "username": "u", "private_key_file": str(cert)})


def test_relative_key_file_is_the_config_files_folders(tmp_path, key_file):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "server.key").write_bytes(key_file.read_bytes())
    config = tmp_path / "leadsync.toml"
    config.write_text('[salesforce]\ninstance_url = "https://acme.my.salesforce.com"\nauth = "jwt"\n'
                      'consumer_key = "ck"\nusername = "u"\nprivate_key_file = "keys/server.key"\n'
                      '[hubspot]\naccess_token = "pat"\n[[campaigns]]\nform_id = "f"\ncampaign_id = "c"\n')
    s = load_settings(config, env={})
    assert s.salesforce.private_key_file == str(tmp_path / "keys" / "server.key")


def test_refresh_tokens_come_from_the_environment_only():
    with pytest.raises(ConfigError) as err:
        _settings({"auth": "refresh_token", "consumer_key": "ck", "consumer_secret": "cs",
                   "refresh_token": "in-the-file"})
    assert "refresh_token" in str(err.value)
    s = _settings({"auth": "refresh_token", "consumer_key": "ck"},
                  {"auth": "refresh_token", "client_id": "hc"},
                  env={"LEADSYNC_SALESFORCE_CONSUMER_SECRET": "sf-cs-secret",
                       "LEADSYNC_SALESFORCE_REFRESH_TOKEN": "sf-rt-secret",
                       "LEADSYNC_HUBSPOT_CLIENT_SECRET": "hs-cs-secret",
                       "LEADSYNC_HUBSPOT_REFRESH_TOKEN": "hs-rt-secret"})
    assert s.salesforce.refresh_token.reveal() == "sf-rt-secret"
    assert (s.hubspot.client_id, s.hubspot.client_secret.reveal()) == ("hc", "hs-cs-secret")
    for value in ("sf-cs-secret", "sf-rt-secret", "hs-cs-secret", "hs-rt-secret"):
        assert value not in repr(s) and value not in str(s)


@pytest.mark.parametrize("hs, key", [
    ({"auth": "refresh_token", "client_secret": "x"}, "hubspot.client_id"),
    ({"auth": "refresh_token", "client_id": "hc"}, "hubspot.client_secret"),
    ({"auth": "refresh_token", "client_id": "hc", "client_secret": "x"}, "hubspot.refresh_token"),
    ({}, "hubspot.access_token"),
    ({"auth": "oauth2"}, "hubspot.auth"),
])
def test_hubspot_auth_mistakes_name_their_key(hs, key):
    with pytest.raises(ConfigError) as err:
        _settings({"access_token": "t"}, hs)
    assert err.value.key == key


def test_status_needs_no_secrets_but_still_checks_keys():
    s = _settings({"auth": "refresh_token", "consumer_key": "ck"}, {"auth": "refresh_token"},
                  require_secrets=False)
    assert s.salesforce.refresh_token is None and s.hubspot.auth == "refresh_token"


def test_a_run_logs_in_by_jwt_and_refresh_token_and_leaks_no_secret(tmp_path):
    from test_auth_flows import _key_pair

    key, pem, cert = _key_pair()
    key_path = tmp_path / "server.key"
    key_path.write_text(pem)
    with Sandbox(token="00Dsession-secret-token") as sandbox:
        sandbox.app.load({
            "salesforce": {"credentials": {"client_id": "ck", "jwt_certificate": cert}},
            "hubspot": {"oauth": {"client_id": "hc", "client_secret": "hs-cs-secret",
                                  "refresh_token": "hs-rt-secret"}}})
        org = Org(sandbox, tmp_path / "state" / "leadsync.db")
        org.add_forms(1)
        org.fill(0, "ada@example.com", lastname="Lovelace", company="Engines")
        settings = settings_from_dict({
            "method": "unique",
            "salesforce": {"instance_url": sandbox.url, "auth": "jwt", "consumer_key": "ck",
                           "username": "integration@leadsync.sandbox",
                           "private_key_file": str(key_path)},
            "hubspot": {"base_url": sandbox.url, "auth": "refresh_token", "client_id": "hc"},
            "state": {"path": str(org.state_path)},
            "campaigns": [{"form_id": org.forms[0], "campaign_id": org.campaigns[0]}],
            "sync": {"start": WORLD_START},
        }, env={"LEADSYNC_HUBSPOT_CLIENT_SECRET": "hs-cs-secret",
                "LEADSYNC_HUBSPOT_REFRESH_TOKEN": "hs-rt-secret"})
        with Session(settings, retry=RetryPolicy.fast()) as engine:
            report = engine.run()
        assert report.status == "ok", report.to_json()
        assert [lead["Email"] for lead in org.leads()] == ["ada@example.com"]
        assert sandbox.counters["salesforce.auth"] == 1 and sandbox.counters["hubspot.oauth"] == 1
    outputs = [repr(report.to_json()), repr(settings), org.state_path.read_bytes().decode("latin-1")]
    secrets = ["hs-cs-secret", "hs-rt-secret", "00Dsession-secret-token",
               pem.splitlines()[1], "PRIVATE KEY"]
    for text in outputs:
        for secret in secrets:
            assert secret not in text


def test_readmes_first_configuration_example_is_the_jwt_login(tmp_path, key_file):
    import re
    import tomllib

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("## Configuration"):]
    example = tomllib.loads(re.search(r"```toml\n(.*?)```", section, re.S).group(1))
    sf = example["salesforce"]
    assert sf["auth"] == "jwt" and {"consumer_key", "username", "private_key_file"} <= set(sf)
    example["salesforce"]["private_key_file"] = str(key_file)
    example["campaigns"] = CAMPAIGNS
    settings = settings_from_dict(example, env={"LEADSYNC_HUBSPOT_ACCESS_TOKEN": "pat"})
    assert login.mode_of(settings.salesforce) == "jwt"
    assert "### Other ways to log in" in section and 'auth = "refresh_token"' in section
