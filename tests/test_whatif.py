"""``leadsync whatif`` on the demo world: the seed's table, every number against a brute-force
dry run of each method, the same answer before and after a sync, and one set of lookups."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.adapters.transport import RetryPolicy
from connector.cli import main
from connector.commands.demo import build_world, demo_settings
from connector.commands.whatif import run_whatif
from connector.core.model import Method
from connector.engine.report import RunOptions
from connector.engine.wiring import Session
from connector.sandbox import Sandbox

SINCE = "2000-01-01"
METHODS = list(Method)


@pytest.fixture
def world(tmp_path):
    with Sandbox() as sandbox:
        w = build_world(sandbox)
        yield sandbox, w, demo_settings(sandbox, w, tmp_path / "state.db", Method.UNIQUE)


def _brute_force(settings, method: Method) -> dict[str, int]:
    """A dry run of one method on the same org: what it would create and attach."""
    with Session(settings, dry_run=True, retry=RetryPolicy.fast()) as engine:
        report = engine.run(RunOptions(dry_run=True, method=method))
    actions = Counter(line["action"] for line in report.responses)
    new_leads = Counter(line["email"] for line in report.responses if line["action"] == "create_lead")
    return {"responses": len(report.responses), "new_leads": actions["create_lead"],
            "new_contacts": actions["create_contact"], "attached_to_leads": actions["attach_lead"],
            "attached_to_contacts": actions["attach_contact"], "calls": report.sf_calls,
            "bob_new_leads": {e: n for e, n in new_leads.items() if e.startswith("bob.")}}


def test_every_number_matches_a_dry_run_of_each_method(world):
    sandbox, w, settings = world
    result = run_whatif(settings, since=SINCE, methods=METHODS).to_json()
    for method in METHODS:
        brute = _brute_force(settings, method)
        got = result["methods"][method.value]
        assert {k: got[k] for k in ("responses", "new_leads", "new_contacts", "attached_to_leads",
                                    "attached_to_contacts")} == {
            k: brute[k] for k in ("responses", "new_leads", "new_contacts", "attached_to_leads",
                                  "attached_to_contacts")}, method


def test_the_seed_table_for_bobs_four_fills(world):
    sandbox, w, settings = world
    result = run_whatif(settings, since=SINCE, methods=METHODS).to_json()
    bob = {row["email"]: row["new_leads"] for row in result["differences"]
           if row["email"].startswith("bob.")}
    assert bob["bob.smith@umbrella.example"] == {"poi": 4, "hybrid": 1, "unique": 1}   # unknown
    assert bob["bob.smith@acme.example"] == {"poi": 4, "hybrid": 1, "unique": 0}      # a Contact
    assert bob["bob.smith@initech.example"] == {"poi": 4, "hybrid": 0, "unique": 0}   # a Lead
    several = {m: result["methods"][m]["people_with_several_open_leads"] for m in ("poi", "unique")}
    # Dana already has two open Leads; under poi every Bob and Carol's fill adds one more
    assert several["unique"] == 1 and several["poi"] > several["unique"]


def test_three_methods_cost_no_more_salesforce_calls_than_one_dry_run(world):
    sandbox, w, settings = world
    result = run_whatif(settings, since=SINCE, methods=METHODS).to_json()
    assert result["salesforce_calls"] <= _brute_force(settings, Method.UNIQUE)["calls"]


def test_the_answer_is_the_same_after_the_sync(world):
    sandbox, w, settings = world
    before = run_whatif(settings, since=SINCE, methods=METHODS).to_json()
    leads_before = len(sandbox.app.salesforce.records("Lead"))
    with Session(settings, retry=RetryPolicy.fast()) as engine:
        assert engine.run().status in ("ok", "partial")
    assert len(sandbox.app.salesforce.records("Lead")) > leads_before   # the sync wrote
    after = run_whatif(settings, since=SINCE, methods=METHODS).to_json()
    assert after["methods"] == before["methods"]
    assert after["differences"] == before["differences"]


def test_whatif_writes_nothing_and_prints_json_through_the_cli(world, tmp_path: Path):
    sandbox, w, settings = world
    counts = {o: len(sandbox.app.salesforce.records(o)) for o in ("Lead", "Contact", "CampaignMember")}
    config = tmp_path / "leadsync.toml"
    config.write_text("\n".join([
        'method = "unique"', "[salesforce]", f'instance_url = "{sandbox.url}"',
        'lead_external_id_field = "Leadsync_Response_Id__c"', "[hubspot]", f'base_url = "{sandbox.url}"',
        "[state]", f'path = "{tmp_path / "s.db"}"', "[sync]", 'start = "2000-01-01"',
        *[f'[[campaigns]]\nform_id = "{f}"\ncampaign_id = "{c}"\nmember_status = "Responded"'
          for f, c in zip(w.forms, w.campaigns)]]) + "\n")
    env = {"LEADSYNC_SALESFORCE_ACCESS_TOKEN": sandbox.token, "LEADSYNC_HUBSPOT_ACCESS_TOKEN": sandbox.token}
    out = CliRunner().invoke(main, ["whatif", "--config", str(config), "--since", SINCE,
                                    "--methods", "poi,unique", "--json"], env=env)
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert set(data) == {"since", "methods", "salesforce_calls", "differences"}
    assert set(data["methods"]) == {"poi", "unique"}
    assert set(data["methods"]["poi"]) == {"responses", "new_leads", "new_contacts", "attached_to_leads",
                                           "attached_to_contacts", "people_with_several_open_leads",
                                           "handoffs"}
    assert counts == {o: len(sandbox.app.salesforce.records(o)) for o in counts}
    text = CliRunner().invoke(main, ["whatif", "--config", str(config), "--since", SINCE], env=env)
    assert text.exit_code == 0 and "new Leads" in text.output and "bob.smith@umbrella.example" in text.output
    bad = CliRunner().invoke(main, ["whatif", "--config", str(config), "--since", SINCE,
                                    "--methods", "poi,sometimes"], env=env)
    assert bad.exit_code == 2 and "--methods" in bad.output


def test_the_window_is_cut_as_a_sync_cuts_it_and_let_go_batch_by_batch():
    from connector.commands.whatif import _batches_consumed
    from connector.core.model import Submission
    from connector.engine.report import Batches

    subs = [Submission(f"c{i:03d}", "f", 1000 + (i * 7919) % 101, {}) for i in range(101)]
    expected = [list(b) for b in Batches.of(subs, 10).batches]
    given = list(subs)
    got = []
    for batch in _batches_consumed(given, 10):
        assert given == []                              # the caller's list is let go
        got.append(batch)
    assert got == expected and len(got) == 11 and len(got[-1]) == 1


@pytest.mark.parametrize("method", METHODS, ids=[m.value for m in METHODS])
def test_open_leads_and_handoffs_match_a_real_sync_on_a_copy_of_the_org(tmp_path, method):
    """The two figures a dry run does not show, against the org after a real sync of the
    same world (with routing, stages and Tasks, so responses are handed off)."""
    from connector.commands.demo import add_sales_team

    with Sandbox() as sandbox:
        w = build_world(sandbox)
        sections = add_sales_team(sandbox, w)
        settings = demo_settings(sandbox, w, tmp_path / "state.db", method, **sections)
        predicted = run_whatif(settings, since=SINCE, methods=[method]).to_json()["methods"][method.value]
        tasks_before = len(sandbox.app.salesforce.records("Task"))
        with Session(settings, retry=RetryPolicy.fast()) as engine:
            assert engine.run().status in ("ok", "partial")
        sf = sandbox.app.salesforce
        open_leads = Counter((lead.get("Email") or "").lower() for lead in sf.records("Lead")
                             if not lead.get("IsConverted") and lead.get("Email"))
        assert predicted["people_with_several_open_leads"] == sum(1 for n in open_leads.values() if n > 1)
        assert predicted["handoffs"] == len(sf.records("Task")) - tasks_before > 0
