"""``leadsync funnel`` on the demo world after a sync: every step counted from what the
org holds (a rep closes a Task, a Lead is converted with an Opportunity that is won, an
Account opens a deal after its person responded), in two composite calls."""

from __future__ import annotations

from pathlib import Path

import json
import sqlite3

import pytest
from click.testing import CliRunner

from connector.adapters.transport import RetryPolicy
from connector.cli import main
from connector.commands.demo import add_sales_team, build_world, demo_settings
from connector.commands.funnel import run_funnel
from connector.core.model import Method
from connector.engine.report import RunOptions
from connector.engine.wiring import Session
from connector.sandbox import Sandbox

SINCE = "2000-01-01"
ROW_KEYS = {"key", "name", "responses", "people", "new_leads", "attached", "sales_ready",
            "accepted", "converted", "opportunities", "won", "won_amount"}


@pytest.fixture
def synced(tmp_path):
    with Sandbox() as sandbox:
        world = build_world(sandbox)
        settings = demo_settings(sandbox, world, tmp_path / "state.db", Method.UNIQUE,
                                 **add_sales_team(sandbox, world))
        with Session(settings, retry=RetryPolicy.fast()) as engine:
            engine.run(RunOptions(dry_run=False, method=Method.UNIQUE))
        yield sandbox, world, settings


def _ledger(settings):
    db = sqlite3.connect(settings.state_path)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM ledger")]
    finally:
        db.close()


def _row(result, key):
    return next(r for r in result["rows"] if r["key"] == key)


def test_counts_match_the_ledger_before_anyone_acts(synced):
    sandbox, world, settings = synced
    funnel, calls = run_funnel(settings, since=SINCE)
    result = funnel.to_json()
    ledger = _ledger(settings)
    assert sum(r["responses"] for r in result["rows"]) == len(ledger)
    for row in result["rows"]:
        mine = [x for x in ledger if (x["campaign_id"] or "") == row["key"]]
        assert row["responses"] == len(mine)
        assert row["people"] == len({x["email"].lower() for x in mine})
        assert row["new_leads"] == sum(x["action"] == "create_lead" for x in mine)
        assert row["attached"] == sum(x["action"] in ("attach_lead", "attach_contact")
                                      for x in mine)
        assert row["sales_ready"] == len({x["email"].lower() for x in mine if x["task_id"]})
        assert row["accepted"] == row["converted"] == row["opportunities"] == 0
    assert any(r["sales_ready"] for r in result["rows"])
    assert calls <= 2          # two rounds of composite queries for this small window


def test_a_closed_task_a_conversion_and_a_won_deal_move_the_steps(synced):
    sandbox, world, settings = synced
    sf = sandbox.app.salesforce
    ledger = _ledger(settings)
    ready = [x for x in ledger if x["task_id"]]
    campaign = ready[0]["campaign_id"]
    sf.update("Task", ready[0]["task_id"], {"Status": "Completed"})
    with_lead = next(x for x in ready if x["lead_id"])
    converted = sf.convert_lead(with_lead["lead_id"], opportunity_name="Demo deal")
    assert converted["opportunityId"]
    sf.update("Opportunity", converted["opportunityId"],
              {"StageName": "Closed Won", "Amount": 12000})
    # a second deal at the same Account, opened after the response
    sf.insert("Opportunity", {"Name": "Expansion", "AccountId": converted["accountId"],
                              "StageName": "Prospecting", "CloseDate": "2099-01-01",
                              "Amount": 500})
    row = _row(run_funnel(settings, since=SINCE)[0].to_json(), campaign)
    people = {x["email"].lower() for x in ready if x["campaign_id"] == campaign}
    accepted = {ready[0]["email"].lower(), with_lead["email"].lower()}
    assert row["sales_ready"] == len(people)
    assert row["accepted"] == len(accepted)
    assert row["converted"] == 1
    assert row["opportunities"] == 2 and row["won"] == 1 and row["won_amount"] == 12000
    assert row["rates"]["accepted"] == round(len(accepted) / len(people), 4)
    assert row["rates"]["won"] == 0.5
    assert row["median_hours"]["won"] is not None


def test_a_converted_lead_makes_its_opportunity_in_the_sandbox(synced):
    sandbox, _, settings = synced
    sf = sandbox.app.salesforce
    lead_id = next(x["lead_id"] for x in _ledger(settings) if x["action"] == "create_lead")
    result = sf.convert_lead(lead_id, opportunity_name="From the webinar")
    lead = next(r for r in sf.records("Lead") if r["Id"] == lead_id)
    opp = next(r for r in sf.records("Opportunity") if r["Id"] == result["opportunityId"])
    assert lead["ConvertedOpportunityId"] == opp["Id"] and lead["IsConverted"]
    assert opp["AccountId"] == result["accountId"] and opp["StageName"] == "Prospecting"
    assert opp["IsClosed"] is False and opp["IsWon"] is False
    sf.update("Opportunity", opp["Id"], {"StageName": "Closed Lost"})
    lost = next(r for r in sf.records("Opportunity") if r["Id"] == opp["Id"])
    assert lost["IsClosed"] is True and lost["IsWon"] is False


def test_without_a_name_no_opportunity_is_made(synced):
    sandbox, _, settings = synced
    sf = sandbox.app.salesforce
    lead_id = next(x["lead_id"] for x in _ledger(settings) if x["action"] == "create_lead")
    assert sf.convert_lead(lead_id)["opportunityId"] is None
    assert sf.records("Opportunity") == []


def test_the_json_keeps_the_issue_shape_for_every_by(synced, tmp_path):
    sandbox, world, settings = synced
    from connector.commands.funnel import run_funnel as run
    for by in ("campaign", "form", "owner", "method"):
        data = run(settings, since=SINCE, by=by)[0].to_json()
        assert {"since", "by", "rows", "accounts"} <= set(data) and data["by"] == by
        for row in data["rows"]:
            assert ROW_KEYS <= set(row)
        assert sum(r["responses"] for r in data["rows"]) == len(_ledger(settings))
    methods = {r["key"] for r in run(settings, since=SINCE, by="method")[0].to_json()["rows"]}
    assert methods == {"unique"}


def test_the_account_view_counts_people_per_account(synced):
    sandbox, world, settings = synced
    data = run_funnel(settings, since=SINCE)[0].to_json()
    assert data["accounts"], "the demo world's people work at known Accounts"
    names = {r["Id"]: r["Name"] for r in sandbox.app.salesforce.records("Account")}
    for account in data["accounts"]:
        assert names[account["account_id"]] == account["name"]
        assert 1 <= account["people"] <= account["responses"]


def write_config(path: Path, sandbox, settings) -> Path:
    """The synced world's settings as a config file the CLI reads."""
    path.write_text(f"""method = "unique"
[salesforce]
instance_url = "{sandbox.url}"
access_token = "{sandbox.token}"
lead_external_id_field = "Leadsync_Response_Id__c"
[hubspot]
base_url = "{sandbox.url}"
access_token = "{sandbox.token}"
[state]
path = "{settings.state_path}"
""" + "".join(f"""[[campaigns]]
form_id = "{c.form_id}"
campaign_id = "{c.campaign_id}"
member_status = "Responded"
""" for c in settings.campaigns))
    return path


def test_cli_json_and_text(synced, tmp_path):
    sandbox, world, settings = synced
    config = write_config(tmp_path / "leadsync.toml", sandbox, settings)
    runner = CliRunner()
    out = runner.invoke(main, ["funnel", "--config", str(config), "--since", SINCE, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["by"] == "campaign" and all(ROW_KEYS <= set(r) for r in data["rows"])
    text = runner.invoke(main, ["funnel", "--config", str(config), "--since", SINCE,
                                "--target-opportunities", "3"])
    assert text.exit_code == 0, text.output
    assert "Funnel since" in text.output and "no plan" in text.output
    assert "fewer than 20" in text.output
