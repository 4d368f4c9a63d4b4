"""LEADSYNC_<SECTION>__<KEY> overrides: merged before validation, secrets' old spelling kept."""

from __future__ import annotations

import pytest

from connector.config.env_overrides import apply_env_overrides, env_path, env_value
from connector.config.settings import load_settings
from connector.errors import ConfigError

FILE = '''
method = "unique"
[salesforce]
instance_url = "https://acme.my.salesforce.com"
access_token = "sf-file"
[hubspot]
access_token = "hs-file"
[sync]
batch_size = 500
[[campaigns]]
form_id = "11111111-2222-3333-4444-555555555555"
campaign_id = "701000000000001AAA"
'''


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "leadsync.toml"
    path.write_text(FILE)
    return path


def test_overrides_replace_file_values(config):
    s = load_settings(config, env={"LEADSYNC_SYNC__BATCH_SIZE": "2000",
                                   "LEADSYNC_SALESFORCE__INSTANCE_URL": "https://beta.my.salesforce.com",
                                   "LEADSYNC_SYNC__LOOKBACK": "1h30m",
                                   "LEADSYNC_METHOD": "hybrid"})
    assert s.sync.batch_size == 2000
    assert s.salesforce.instance_url == "https://beta.my.salesforce.com"
    assert s.sync.lookback_seconds == 5400
    assert s.method.value == "hybrid"


def test_a_table_the_file_lacks_is_created(config):
    s = load_settings(config, env={"LEADSYNC_STATE__PATH": "/var/lib/leadsync/state.db"})
    assert str(s.state_path) == "/var/lib/leadsync/state.db"


def test_a_bad_value_names_its_key(config):
    with pytest.raises(ConfigError) as err:
        load_settings(config, env={"LEADSYNC_SYNC__BATCH_SIZE": "lots"})
    assert err.value.key == "sync.batch_size"
    with pytest.raises(ConfigError) as err:
        load_settings(config, env={"LEADSYNC_SYNC__BATCHSIZE": "10"})
    assert err.value.key == "sync.batchsize"


def test_the_secret_variables_still_work_and_win_over_the_file(config):
    s = load_settings(config, env={"LEADSYNC_SALESFORCE_ACCESS_TOKEN": "sf-env",
                                   "LEADSYNC_HUBSPOT__ACCESS_TOKEN": "hs-env"})
    assert s.salesforce.access_token.reveal() == "sf-env"
    assert s.hubspot.access_token.reveal() == "hs-env"


def test_paths_and_values():
    assert env_path("LEADSYNC_ROUTING__TASKS__SLA") == ("routing", "tasks", "sla")
    assert env_path("LEADSYNC_SALESFORCE_ACCESS_TOKEN") is None
    assert env_path("LEADSYNC_CONFIG") is None and env_path("PATH") is None
    with pytest.raises(ConfigError, match="LEADSYNC_SYNC____X"):
        env_path("LEADSYNC_SYNC____X")
    assert env_value("2000") == 2000 and env_value("true") is True and env_value("0.5") == 0.5
    assert env_value('"quoted"') == "quoted" and env_value('["a", "b"]') == ["a", "b"]
    assert env_value("https://x.example") == "https://x.example"
    assert env_value("{a = 1}") == "{a = 1}"


def test_a_list_is_not_a_table():
    data = {"campaigns": [{"form_id": "f"}], "sync": {"batch_size": 1}}
    with pytest.raises(ConfigError) as err:
        apply_env_overrides(data, {"LEADSYNC_CAMPAIGNS__FORM_ID": "x"})
    assert err.value.key == "campaigns"
    merged = apply_env_overrides(data, {"LEADSYNC_SYNC__BATCH_SIZE": "5"})
    assert merged["sync"]["batch_size"] == 5 and data["sync"]["batch_size"] == 1
