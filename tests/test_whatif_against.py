"""``leadsync whatif --against OTHER.toml``: a second configuration decided over the same
lookups. The other side's numbers are checked against a what-if of that configuration on
its own; the calls it adds against what it can and cannot share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.commands.demo import add_sales_team, build_world, demo_settings
from connector.commands.whatif import SharedLookups, WritesRefused, run_whatif
from connector.config.settings import load_settings
from connector.core.model import Method
from connector.errors import ConfigError
from connector.sandbox import Sandbox

SINCE = "2000-01-01"
METHODS = list(Method)


def toml_of(data: dict[str, Any]) -> str:
    """Just enough TOML for a leadsync configuration (tables, arrays of tables, strings,
    numbers and lists of strings), so a test can write the file an admin would."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return str(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(str(v))

    def table(prefix: str, body: dict[str, Any], header: str) -> list[str]:
        lines = [header] if header else []
        nested: list[str] = []
        for k, v in body.items():
            name = f"{prefix}.{k}" if prefix else k
            if isinstance(v, dict):
                nested += table(name, v, f"[{name}]")
            elif isinstance(v, list) and v and isinstance(v[0], dict):
                for item in v:
                    nested += table(name, item, f"[[{name}]]")
            else:
                lines.append(f"{k} = {value(v)}")
        return lines + nested

    return "\n".join(table("", data, "")) + "\n"


def write_config(path: Path, sandbox: Sandbox, world: Any, state: Path, method: str = "unique",
                 **sections: Any) -> Path:
    path.write_text(toml_of({
        "method": method,
        "salesforce": {"instance_url": sandbox.url,
                       "lead_external_id_field": "Leadsync_Response_Id__c"},
        "hubspot": {"base_url": sandbox.url},
        "state": {"path": str(state)},
        "sync": {"start": "2000-01-01"},
        "campaigns": [{"form_id": f, "campaign_id": c, "member_status": "Responded"}
                      for f, c in zip(world.forms, world.campaigns)],
        **sections}))
    return path


@pytest.fixture
def world(tmp_path):
    with Sandbox() as sandbox:
        w = build_world(sandbox)
        yield sandbox, w, demo_settings(sandbox, w, tmp_path / "state.db", Method.UNIQUE)


def _calls_of(settings) -> int:
    return run_whatif(settings, since=SINCE, methods=METHODS).salesforce_calls


def test_against_the_same_configuration_shares_every_lookup(world, tmp_path: Path):
    sandbox, w, settings = world
    other = write_config(tmp_path / "same.toml", sandbox, w, tmp_path / "state.db")
    alone = run_whatif(settings, since=SINCE, methods=METHODS).to_json()
    both = run_whatif(settings, since=SINCE, methods=METHODS, against=str(other)).to_json()
    assert both["methods"] == alone["methods"]
    assert both["differences"] == alone["differences"]
    block = both["against"]
    assert block["config"] == str(other)
    assert block["methods"] == alone["methods"]
    assert block["salesforce_calls"] == 0 and block["gathered_again"] == []
    assert block["differences"] == []
    assert both["salesforce_calls"] == alone["salesforce_calls"]


def test_a_new_routing_is_decided_as_it_would_be_on_its_own(world, tmp_path: Path):
    sandbox, w, settings = world
    team = add_sales_team(sandbox, w)
    routed_path = write_config(tmp_path / "routed.toml", sandbox, w, tmp_path / "state.db", **team)
    routed = demo_settings(sandbox, w, tmp_path / "state.db", Method.UNIQUE, **team)
    alone = run_whatif(routed, since=SINCE, methods=METHODS)
    plain = run_whatif(settings, since=SINCE, methods=METHODS)
    both = run_whatif(settings, since=SINCE, methods=METHODS, against=str(routed_path))
    data = both.to_json()
    # each side is what a what-if of its configuration alone says
    assert data["methods"] == plain.to_json()["methods"]
    assert data["against"]["methods"] == alone.to_json()["methods"]
    assert both.against is not None
    for method in METHODS:
        mine, theirs = both.against.whatif.methods[method], alone.whatif.methods[method]
        assert mine.tasks_by_owner == theirs.tasks_by_owner
    # the routing hands off the demo form's responses; the plain config hands off nothing
    assert data["methods"]["unique"]["handoffs"] == 0
    assert data["against"]["methods"]["unique"]["handoffs"] > 0
    # new_person = "contact" needs Accounts the main config never looked up: read again,
    # and said so; the owners' lookup is the other side's too
    assert "accounts" in data["against"]["gathered_again"]
    assert "people" not in data["against"]["gathered_again"]
    assert data["against"]["salesforce_calls"] > 0
    assert data["salesforce_calls"] == plain.salesforce_calls + data["against"]["salesforce_calls"]
    # the owners routing picks are named, and the people whose outcome changes are listed
    assert "maria@sales.example" in both.names.owners.values()
    changed = {row["email"]: row for row in data["against"]["differences"]}
    assert changed, "a new routing changes someone's outcome"
    jane = changed.get("jane.doe@eu.acme.example")
    assert jane is not None
    assert jane["methods"]["unique"]["main"] != jane["methods"]["unique"]["against"]


def test_against_another_org_is_refused(world, tmp_path: Path):
    sandbox, w, settings = world
    other = tmp_path / "other-org.toml"
    other.write_text(toml_of({"method": "unique",
                              "salesforce": {"instance_url": "https://elsewhere.my.salesforce.com"},
                              "hubspot": {"base_url": sandbox.url},
                              "campaigns": [{"form_id": w.forms[0], "campaign_id": w.campaigns[0],
                                             "member_status": "Responded"}]}))
    with pytest.raises(ConfigError, match="same Salesforce org"):
        run_whatif(settings, since=SINCE, methods=METHODS, against=str(other))


def test_shared_lookups_refuse_every_write(world):
    sandbox, w, settings = world
    from connector.engine.wiring import clients

    lookups = SharedLookups(clients(settings).salesforce)
    for write in (lambda: lookups.create("Lead", [{}]), lambda: lookups.upsert("Lead", "X", [{}]),
                  lambda: lookups.create_members([{}]), lambda: lookups.update_mixed([])):
        with pytest.raises(WritesRefused):
            write()


def test_shared_lookups_serve_a_narrower_ask_from_the_first_and_read_a_wider_one(world):
    sandbox, w, settings = world
    from connector.engine.wiring import clients

    sf = clients(settings).salesforce
    lookups = SharedLookups(sf, lead_fields=["Title"])
    emails = {"bob.smith@initech.example", "dana.white@globex.example"}
    leads, contacts = lookups.find_people(emails, lead_fields=["Company"])
    assert leads and all("Title" in row for row in leads)      # widened for the other side
    lookups.share()
    calls = sf.calls
    narrower = lookups.find_people({"bob.smith@initech.example"}, lead_fields=["Title"])
    assert sf.calls == calls and lookups.gathered_again == set()
    assert {r["Email"].lower() for r in narrower[0]} == {"bob.smith@initech.example"}
    lookups.find_people(emails, lead_fields=["Industry"])          # a field nobody read
    assert sf.calls == calls + 1 and lookups.gathered_again == {"people"}


def test_the_cli_prints_the_against_block(world, tmp_path: Path):
    sandbox, w, settings = world
    main_cfg = write_config(tmp_path / "leadsync.toml", sandbox, w, tmp_path / "s.db")
    team = add_sales_team(sandbox, w)
    other = write_config(tmp_path / "routed.toml", sandbox, w, tmp_path / "s.db", **team)
    env = {"LEADSYNC_SALESFORCE_ACCESS_TOKEN": sandbox.token,
           "LEADSYNC_HUBSPOT_ACCESS_TOKEN": sandbox.token}
    out = CliRunner().invoke(main, ["whatif", "--config", str(main_cfg), "--since", SINCE,
                                    "--against", str(other), "--json"], env=env)
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert set(data) == {"since", "methods", "salesforce_calls", "differences", "against"}
    assert set(data["against"]) == {"config", "methods", "salesforce_calls", "gathered_again",
                                    "differences"}
    assert set(data["against"]["methods"]) == {"poi", "hybrid", "unique"}
    assert load_settings(str(other), require_secrets=False).routing.mode == "rules"
    text = CliRunner().invoke(main, ["whatif", "--config", str(main_cfg), "--since", SINCE,
                                     "--against", str(other)], env=env)
    assert text.exit_code == 0, text.output
    assert f"Under {other}" in text.output and "hand-offs to sales" in text.output
    assert "maria@sales.example" in text.output      # an owner by name, not by Id
    missing = CliRunner().invoke(main, ["whatif", "--config", str(main_cfg), "--since", SINCE,
                                        "--against", str(tmp_path / "nope.toml")], env=env)
    assert missing.exit_code == 2
