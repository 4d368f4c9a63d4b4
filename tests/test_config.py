from __future__ import annotations

import pytest

from connector.config.settings import Secret, load_settings, parse_duration, settings_from_dict
from connector.errors import ConfigError
from connector.core.model import Method

BASE = {
    "method": "hybrid",
    "salesforce": {"instance_url": "https://acme.my.salesforce.com", "access_token": "00Dxx!sf-secret"},
    "hubspot": {"access_token": "pat-na1-hs-secret"},
    "state": {"path": "state/leadsync.db"},
    "campaigns": [{"form_id": "f-1", "campaign_id": "701000000000001AAA", "member_status": "Responded"}],
}


def with_(**changes):
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    for dotted, value in changes.items():
        section, _, key = dotted.partition("__")
        if key:
            data[section][key] = value
        else:
            data[section] = value
    return data


def test_full_example_loads():
    s = settings_from_dict(BASE, env={})
    assert s.method is Method.HYBRID
    assert s.salesforce.access_token.reveal() == "00Dxx!sf-secret"
    assert s.campaigns[0].campaign_id == "701000000000001AAA"
    assert s.sync.lookback_seconds == 600 and s.sync.unique_prefers == "contact"
    assert s.salesforce.auto_assign is False


def test_secrets_never_show_in_repr():
    s = settings_from_dict(BASE, env={})
    text = repr(s) + str(s)
    assert "sf-secret" not in text and "hs-secret" not in text
    assert repr(Secret("x")) == "Secret('***')"


def test_secrets_from_environment():
    data = with_(salesforce={"instance_url": "https://acme.my.salesforce.com"}, hubspot={})
    env = {"LEADSYNC_SALESFORCE_ACCESS_TOKEN": "from-env", "LEADSYNC_HUBSPOT_ACCESS_TOKEN": "hs-env"}
    s = settings_from_dict(data, env=env)
    assert s.salesforce.access_token.reveal() == "from-env"
    assert s.hubspot.access_token.reveal() == "hs-env"


@pytest.mark.parametrize("data,key", [
    (with_(method="sometimes"), "method"),
    (with_(colour="blue"), "colour"),
    (with_(salesforce__acces_token="typo"), "salesforce.acces_token"),
    (with_(salesforce={"instance_url": "https://acme.my.salesforce.com"}), "salesforce.access_token"),
    (with_(hubspot={}), "hubspot.access_token"),
    (with_(salesforce__instance_url="acme.my.salesforce.com"), "salesforce.instance_url"),
    (with_(campaigns=[]), "campaigns"),
    (with_(campaigns=[{"form_id": "f"}]), "campaigns[0].campaign_id"),
    (with_(campaigns=[{"form_id": "f", "campaign_id": "c", "status": "x"}]), "campaigns[0].status"),
    (with_(campaigns=[{"form_id": "f", "campaign_id": "c", "member_status": "x" * 41}]),
     "campaigns[0].member_status"),
    (with_(sync={"lookback": "ten minutes"}), "sync.lookback"),
    (with_(sync={"batch_size": 5000}), "sync.batch_size"),
    (with_(sync={"unique_prefers": "account"}), "sync.unique_prefers"),
    (with_(salesforce__lead_external_id_field="Leadsync_Id"), "salesforce.lead_external_id_field"),
])
def test_mistakes_are_named_by_key(data, key):
    with pytest.raises(ConfigError) as caught:
        settings_from_dict(data, env={})
    assert caught.value.key == key
    assert caught.value.exit_code == 2
    assert "sf-secret" not in str(caught.value) and "hs-secret" not in str(caught.value)


def test_commands_without_api_calls_may_leave_secrets_out():
    bare = with_(salesforce={"instance_url": "https://acme.my.salesforce.com"}, hubspot={})
    with pytest.raises(ConfigError, match="salesforce.access_token"):
        settings_from_dict(bare, env={})                       # secrets are required by default
    s = settings_from_dict(bare, env={}, require_secrets=False)
    assert s.salesforce.access_token is None and s.hubspot.access_token is None
    assert str(s.state_path) == "state/leadsync.db"
    given = settings_from_dict(bare, env={"LEADSYNC_HUBSPOT_ACCESS_TOKEN": "hs-env"}, require_secrets=False)
    assert given.hubspot.access_token.reveal() == "hs-env"     # still read when given
    with pytest.raises(ConfigError, match="method"):              # every other key still checked
        settings_from_dict({**bare, "method": "nope"}, env={}, require_secrets=False)
    with pytest.raises(ConfigError, match="salesforce.instance_url"):
        settings_from_dict(with_(salesforce={}, hubspot={}), env={}, require_secrets=False)


def test_password_and_client_credentials_are_alternatives():
    pw = with_(salesforce={"instance_url": "https://acme.my.salesforce.com", "username": "u@acme",
                           "password": "p", "security_token": "t"})
    assert settings_from_dict(pw, env={}).salesforce.username == "u@acme"
    cc = with_(salesforce={"instance_url": "https://acme.my.salesforce.com", "consumer_key": "k",
                           "consumer_secret": "s"})
    assert settings_from_dict(cc, env={}).salesforce.consumer_secret.reveal() == "s"


def test_config_file_from_environment_variable(tmp_path):
    path = tmp_path / "leadsync.toml"
    path.write_text('method = "poi"\n[salesforce]\ninstance_url = "http://127.0.0.1:8765"\n'
                    'access_token = "t"\nlead_external_id_field = "Leadsync_Response_Id__c"\n[hubspot]\naccess_token = "t"\n'
                    '[[campaigns]]\nform_id = "f"\ncampaign_id = "c"\n')
    s = load_settings(env={"LEADSYNC_CONFIG": str(path)})
    assert s.method is Method.POI and s.salesforce.is_sandbox


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="no configuration file"):
        load_settings(env={})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("method = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad, env={})


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("5m", 300), ("1h", 3600), ("2d", 172800),
                                          (90, 90), ("45", 45)])
def test_durations(text, seconds):
    assert parse_duration(text, key="k") == seconds
