"""Issue 17, items 1, 4 and 5: the configuration refuses poi without its external id field
(unless at-least-once is chosen by name), type-checks every value with a named key (exit 2,
never a traceback), and resolves relative paths against the config file's folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.config.settings import check_method, load_settings, settings_from_dict
from connector.core.model import Method
from connector.errors import ConfigError
from connector.sandbox import Sandbox
from sync_helpers import Org

BASE: dict[str, Any] = {
    "salesforce": {"instance_url": "https://acme.my.salesforce.com", "access_token": "t"},
    "hubspot": {"access_token": "t"},
    "campaigns": [{"form_id": "f-1", "campaign_id": "701000000000001AAA"}],
}


@pytest.fixture
def org(tmp_path):
    with Sandbox(token="sandbox") as sandbox:
        o = Org(sandbox, tmp_path / "leadsync.db")
        o.add_forms(1)
        yield o


def config(**changes: Any) -> dict[str, Any]:
    data = {key: (dict(value) if isinstance(value, dict) else value) for key, value in BASE.items()}
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    return data


# -- item 1: poi needs the external id field, or an explicit at-least-once ------------------

def test_poi_without_the_external_id_field_is_refused_naming_the_key_and_the_fix():
    with pytest.raises(ConfigError) as caught:
        settings_from_dict(config(method="poi"), env={})
    error = caught.value
    assert error.key == "salesforce.lead_external_id_field" and error.exit_code == 2
    text = str(error)
    assert "External ID" in text and "Unique" in text and "Leadsync_Response_Id__c" in text
    assert "leadsync mappings check" in text and 'poi_delivery = "at_least_once"' in text


def test_poi_with_the_field_or_with_at_least_once_by_name_loads():
    with_field = settings_from_dict(
        config(method="poi", salesforce={"lead_external_id_field": "Leadsync_Response_Id__c"}), env={})
    assert with_field.method is Method.POI and with_field.sync.poi_delivery == "exactly_once"
    opted = settings_from_dict(config(method="poi", sync={"poi_delivery": "at_least_once"}), env={})
    assert opted.sync.poi_delivery == "at_least_once"
    with pytest.raises(ConfigError, match="sync.poi_delivery"):
        settings_from_dict(config(sync={"poi_delivery": "mostly"}), env={})


def test_a_method_override_to_poi_meets_the_same_rule():
    settings = settings_from_dict(config(method="hybrid"), env={})
    check_method(settings, Method.UNIQUE)          # other methods need nothing
    with pytest.raises(ConfigError, match="salesforce.lead_external_id_field"):
        check_method(settings, Method.POI)


def test_sync_with_method_poi_override_exits_2_and_writes_nothing(org, tmp_path):
    path = org.write_config(tmp_path / "c.toml", method="hybrid")
    org.fill(0, "bob@acme.example", lastname="Smith")
    result = CliRunner().invoke(main, ["sync", "--config", str(path), "--method", "poi"],
                                env=org.env())
    assert result.exit_code == 2, result.output
    assert "lead_external_id_field" in result.output
    assert org.leads() == [] and org.members() == []


# -- item 4: every value type-checked, the key named -----------------------------------------

@pytest.mark.parametrize("changes, key", [
    ({"campaigns": [1]}, "campaigns[0]"),
    ({"campaigns": "f-1"}, "campaigns"),
    ({"campaigns": [{"form_id": 5, "campaign_id": "701"}]}, "campaigns[0].form_id"),
    ({"campaigns": [{"form_id": "f", "campaign_id": "701", "member_status": 3}]},
     "campaigns[0].member_status"),
    ({"state": {"path": 123}}, "state.path"),
    ({"state": "state.db"}, "state"),
    ({"sync": {"mapping": ["a.toml"]}}, "sync.mapping"),
    ({"sync": {"lookback": [1]}}, "sync.lookback"),
    ({"sync": {"on_multiple_matches": ["oldest"]}}, "sync.on_multiple_matches"),
    ({"sync": {"start": True}}, "sync.start"),
    ({"salesforce": {"username": 42, "password": "p"}}, "salesforce.username"),
    ({"salesforce": {"access_token": 123}}, "salesforce.access_token"),
    ({"salesforce": {"lead_external_id_field": 7}}, "salesforce.lead_external_id_field"),
    ({"salesforce": {"budget_share": True}}, "salesforce.budget_share"),
    ({"hubspot": {"access_token": ["x"]}}, "hubspot.access_token"),
    ({"method": ["poi"]}, "method"),
    ({"accounts": {"new_person": ["lead"]}}, "accounts.new_person"),
    ({"routing": {"mode": ["rules"]}}, "routing.mode"),
])
def test_a_value_of_the_wrong_type_is_a_config_error_naming_its_key(changes, key):
    with pytest.raises(ConfigError) as caught:
        settings_from_dict(config(**changes), env={})
    assert caught.value.key == key, str(caught.value)


def test_campaigns_of_numbers_exits_2_with_a_message_not_a_traceback(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('campaigns = [1]\n[salesforce]\ninstance_url = "https://acme.my.salesforce.com"\n'
                    'access_token = "t"\n[hubspot]\naccess_token = "t"\n')
    result = CliRunner().invoke(main, ["status", "--config", str(path)])
    assert result.exit_code == 2 and "campaigns[0]" in result.output, result.output
    assert "Traceback" not in result.output


# -- item 5: relative paths are the config file's folder's ----------------------------------

def test_relative_paths_resolve_against_the_config_files_folder(tmp_path, monkeypatch):
    etc, elsewhere = tmp_path / "etc", tmp_path / "elsewhere"
    (etc / "mappings").mkdir(parents=True)
    elsewhere.mkdir()
    (etc / "mappings" / "acme.toml").write_text('[fields.email]\nlead = "Email"\n')
    (etc / "leadsync.toml").write_text(
        '[salesforce]\ninstance_url = "https://acme.my.salesforce.com"\n'
        '[state]\npath = "state/leadsync.db"\n[sync]\nmapping = "mappings/acme.toml"\n'
        '[[campaigns]]\nform_id = "f"\ncampaign_id = "c"\n')
    monkeypatch.chdir(elsewhere)
    settings = load_settings("../etc/leadsync.toml", env={}, require_secrets=False)
    monkeypatch.chdir(tmp_path)             # a later chdir changes nothing: paths are absolute
    assert settings.state_path == etc.resolve() / "state" / "leadsync.db"
    assert settings.mapping_path().resolve() == (etc / "mappings" / "acme.toml").resolve()


def test_a_copy_in_the_working_directory_no_longer_shadows_the_configs(tmp_path, monkeypatch):
    etc, cwd = tmp_path / "etc", tmp_path / "cwd"
    (etc / "mappings").mkdir(parents=True)
    (cwd / "mappings").mkdir(parents=True)
    for folder in (etc, cwd):
        (folder / "mappings" / "m.toml").write_text('[fields.email]\nlead = "Email"\n')
    (etc / "c.toml").write_text('[salesforce]\ninstance_url = "https://a.my.salesforce.com"\n'
                                '[sync]\nmapping = "mappings/m.toml"\n'
                                '[[campaigns]]\nform_id = "f"\ncampaign_id = "c"\n')
    monkeypatch.chdir(cwd)
    settings = load_settings(etc / "c.toml", env={}, require_secrets=False)
    assert settings.mapping_path().resolve() == (etc / "mappings" / "m.toml").resolve()


def test_absolute_paths_and_dict_configs_are_as_given(tmp_path):
    absolute = tmp_path / "abs.db"
    (tmp_path / "c.toml").write_text(
        '[salesforce]\ninstance_url = "https://a.my.salesforce.com"\n'
        f'[state]\npath = "{absolute}"\n[[campaigns]]\nform_id = "f"\ncampaign_id = "c"\n')
    assert load_settings(tmp_path / "c.toml", env={}, require_secrets=False).state_path == absolute
    as_dict = settings_from_dict(config(state={"path": "state/x.db"}), env={})
    assert as_dict.state_path == Path("state/x.db")
    based = settings_from_dict(config(state={"path": "state/x.db"}), env={}, base=tmp_path)
    assert based.state_path == tmp_path / "state" / "x.db"


def test_status_from_another_folder_reads_the_daemons_ledger(org, tmp_path, monkeypatch):
    folder = tmp_path / "deploy"
    folder.mkdir()
    monkeypatch.chdir(folder)
    path = org.write_config(folder / "c.toml", method="hybrid")
    text = path.read_text().replace(f'path = "{org.state_path}"', 'path = "state/leadsync.db"')
    path.write_text(text)
    org.fill(0, "bob@acme.example", lastname="Smith")
    first = CliRunner().invoke(main, ["sync", "--config", str(path)], env=org.env())
    assert first.exit_code == 0, first.output
    monkeypatch.chdir(tmp_path)
    status = CliRunner().invoke(main, ["status", "--config", "deploy/c.toml", "--json"])
    assert status.exit_code == 0, status.output
    assert (folder / "state" / "leadsync.db").exists()
    assert not (tmp_path / "state").exists()
    summary = json.loads(status.output)
    assert summary["state"] == str(folder / "state" / "leadsync.db")
    assert summary["daily"] == [{"day": summary["daily"][0]["day"], "outcome": "created_lead", "n": 1}]
