"""Issue 17, bug 5: one conversionId on two forms is two responses, keyed (form, id) together.

The first claimant keeps the bare id as its key (so every row, external id and Task key an
earlier release wrote is still found); the other is keyed ``"{id}:{form}"``. These tests
pin the rule itself and the paths that match HubSpot to the ledger by it: the stage of a
pull, ``retry``, ``reconcile`` and the external ids written under ``poi``.
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from connector.adapters.sqlite.ledger import State
from connector.adapters.transport import RetryPolicy
from connector.cli import main
from connector.core.keys import collision_key, keyed, match_recorded
from connector.core.model import Submission
from connector.engine.wiring import Session
from connector.sandbox import Sandbox
from sync_helpers import EXT, Org

CID = "c0111de5-0000-4000-8000-00000000b005"


@pytest.fixture
def org(tmp_path):
    with Sandbox(seed=5) as sandbox:
        o = Org(sandbox, tmp_path / "leadsync.db")
        o.add_forms(2)
        yield o


def sub(form: str, at: int, cid: str = CID) -> Submission:
    return Submission(cid, form, at, {"email": f"{form}@x.example"}, None)


# -- the rule ----------------------------------------------------------------------------------
def test_a_lone_id_keeps_its_bare_key_and_object():
    alone = [sub("f1", 10, "a"), sub("f2", 20, "b")]
    assert [s is k for s, k in zip(alone, keyed(alone, {}))] == [True, True]


def test_the_earliest_claimant_owns_the_id_within_a_window():
    late, early = sub("f1", 20), sub("f2", 10)
    assert [s.conversion_id for s in keyed([late, early], {})] == [collision_key(CID, "f1"), CID]
    tie = keyed([sub("fb", 10), sub("fa", 10)], {})     # one moment: the smaller form id owns it
    assert [s.conversion_id for s in tie] == [f"{CID}:fb", CID]


def test_the_ledger_owner_wins_over_an_earlier_claimant():
    subs = keyed([sub("f1", 10), sub("f2", 20)], {CID: "f2"})
    assert [s.conversion_id for s in subs] == [f"{CID}:f1", CID]


def test_retry_matches_either_key_by_the_submissions_form():
    assert match_recorded(sub("f1", 10), {CID}) == CID
    assert match_recorded(sub("f2", 10), {f"{CID}:f2"}) == f"{CID}:f2"
    assert match_recorded(sub("f2", 10), {f"{CID}:f3"}) is None


# -- end to end ----------------------------------------------------------------------------------
def add(org: Org, form: int, email: str) -> None:
    """A submission on ``form`` with the shared id, forged past the sandbox's own refusal of
    a repeated conversionId."""
    org.hs.store.conversions.pop(CID, None)
    org.clock += 60_000
    org.hs.add_submission(org.forms[form], {"email": email, "lastname": email.split("@")[0]},
                          submitted_at=org.clock, conversion_id=CID)


def rows(org: Org) -> dict[str, dict]:
    state = State.open(org.state_path)
    try:
        return {r["conversion_id"]: r for r in state.rows()}
    finally:
        state.close()


def test_poi_external_ids_are_the_keys_and_a_replay_finds_both(org):
    add(org, 0, "first@x.example")
    add(org, 1, "second@x.example")
    poi = {"salesforce": {"lead_external_id_field": EXT}}
    assert org.sync("poi", **poi).status == "ok"
    second = collision_key(CID, org.forms[1])
    assert {lead[EXT]: lead["Email"] for lead in org.leads()} == {
        CID: "first@x.example", second: "second@x.example"}
    recorded = rows(org)
    assert {k: (r["form_id"], r["email"]) for k, r in recorded.items()} == {
        CID: (org.forms[0], "first@x.example"), second: (org.forms[1], "second@x.example")}
    # A replay of both (the rows lost, as after a crash before the outcomes were recorded)
    # upserts onto the Leads their keys name: no third Lead.
    with sqlite3.connect(org.state_path) as db:
        db.execute("DELETE FROM ledger")
        db.execute("DELETE FROM watermarks")
    assert org.sync("poi", **poi).status == "ok"
    assert len(org.leads()) == 2 and set(rows(org)) == {CID, second}


def test_retry_finds_the_parked_second_by_its_form_and_key(org):
    add(org, 0, "first@x.example")
    add(org, 1, "second@x.example")
    org.close_campaign(1)
    assert org.sync("unique").counts["failed"] == 1
    second = collision_key(CID, org.forms[1])
    assert rows(org)[second]["status"] == "failed" and rows(org)[CID]["status"] == "applied"
    org.sf.add_validation_rule("CampaignMember", "Closed_1", "false", "open again", active=False)
    with Session(org.settings("unique"), retry=RetryPolicy.fast()) as engine:
        report = engine.retry()
    assert report.status == "ok" and report.counts["pulled"] == 1, report.counts
    after = rows(org)
    assert (after[second]["status"], after[second]["email"], after[second]["attempts"]) == (
        "applied", "second@x.example", 2)
    assert after[CID]["email"] == "first@x.example" and after[CID]["attempts"] == 1
    assert sorted(lead["Email"] for lead in org.leads()) == ["first@x.example", "second@x.example"]


def test_reconcile_matches_each_to_its_own_row_and_fixes_the_missed_one(org, tmp_path):
    config = org.write_config(tmp_path / "c.toml", method="unique")
    add(org, 0, "first@x.example")
    add(org, 1, "second@x.example")
    assert CliRunner().invoke(main, ["sync", "--config", str(config)], env=org.env()).exit_code == 0
    since = ["--since", "2025-11-01"]
    clean = CliRunner().invoke(main, ["reconcile", "--config", str(config), *since, "--json"], env=org.env())
    assert json.loads(clean.output)["drift"] == 0, clean.output
    second = collision_key(CID, org.forms[1])
    with sqlite3.connect(org.state_path) as db:       # the ledger lost the second's row
        db.execute("DELETE FROM ledger WHERE conversion_id = ?", [second])
    org.sf.delete("Lead", org.leads("second@x.example")[0]["Id"])
    found = CliRunner().invoke(main, ["reconcile", "--config", str(config), *since, "--json"], env=org.env())
    missed = json.loads(found.output)["items"]["missed"]
    assert [(i["conversion_id"], i["email"]) for i in missed] == [(second, "second@x.example")]
    fixed = CliRunner().invoke(main, ["reconcile", "--config", str(config), *since, "--fix", "--yes"],
                               env=org.env())
    assert fixed.exit_code in (0, 3), fixed.output
    assert rows(org)[second]["status"] == "applied" and rows(org)[CID]["email"] == "first@x.example"
    assert sorted(lead["Email"] for lead in org.leads()) == ["first@x.example", "second@x.example"]
