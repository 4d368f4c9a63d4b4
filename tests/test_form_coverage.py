"""Form coverage: every form type is listed where leadsync lists forms, and ``mappings check``
warns about a configured form HubSpot does not list (issue 23)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from connector.cli import main
from connector.core.form_coverage import unseen_forms
from connector.engine.wiring import clients
from connector.sandbox import Sandbox
from sync_helpers import Org

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def org(tmp_path):
    with Sandbox(seed=2) as sandbox:
        o = Org(sandbox, tmp_path / "leadsync.db")
        o.add_forms(1)
        for name, kind in (("Site contact", "captured"), ("Exit pop-up", "flow")):
            o.forms.append(o.hs.store.add_form({"name": name, "formType": kind})["id"])
            o.campaigns.append(o.sf.insert("Campaign", {"Name": name, "IsActive": True}))
        yield o


def listed(org: Org, **params: object) -> set[str]:
    reply = requests.get(f"{org.sandbox.url}/marketing/v3/forms/", params=params,
                         headers={"Authorization": f"Bearer {org.sandbox.token}"}, timeout=10)
    assert reply.status_code == 200
    return {f["name"] for f in reply.json()["results"]}


def test_the_sandbox_lists_other_form_types_only_when_asked(org):
    assert listed(org) == {"Form 0"}                                   # HubSpot's default
    assert listed(org, formTypes="captured") == {"Site contact"}
    assert listed(org, formTypes=["hubspot", "flow"]) == {"Form 0", "Exit pop-up"}
    assert listed(org, formTypes="all") == {"Form 0", "Site contact", "Exit pop-up"}


def test_leadsync_lists_every_form_type(org):
    names = clients(org.settings()).hubspot.form_names()
    assert set(names.values()) == {"Form 0", "Site contact", "Exit pop-up"}


def test_unseen_forms_are_warnings_naming_the_entry():
    (problem,) = unseen_forms(["a", "b"], {"a": "A"})
    assert problem.level == "warning" and problem.where == "campaigns[1].form_id = 'b'"


def test_mappings_check_warns_about_a_form_it_cannot_see(org, tmp_path):
    mapping = {"mapping": str(ROOT / "mappings" / "default.toml")}
    config = org.write_config(tmp_path / "ok.toml", sync=mapping)
    result = CliRunner().invoke(main, ["mappings", "check", "--config", str(config)], env=org.env())
    assert result.exit_code == 0, result.output
    assert "OK against the org's Lead and Contact" in result.output   # captured and flow seen

    org.forms.append("00000000-0000-0000-0000-00000000dead")
    org.campaigns.append(org.sf.insert("Campaign", {"Name": "Ghost", "IsActive": True}))
    config = org.write_config(tmp_path / "ghost.toml", sync=mapping)
    result = CliRunner().invoke(main, ["mappings", "check", "--config", str(config)], env=org.env())
    assert result.exit_code == 0, result.output                       # a warning, not an error
    assert "campaigns[3].form_id = '00000000-0000-0000-0000-00000000dead'" in result.output
    assert "0 error(s), 1 warning(s)" in result.output
    result = CliRunner().invoke(main, ["mappings", "check", "--config", str(config), "--json"],
                                env=org.env())
    (warning,) = json.loads(result.output)["forms"]["problems"]
    assert warning["level"] == "warning" and "every type" in warning["message"]
