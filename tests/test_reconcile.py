"""Reconciliation: the comparison as a table of plain rows, and the command against the sandbox
after the test creates each kind of drift."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.errors import ConfigError
from connector.core.model import Submission
from connector.core.reconcile import (Sources, compare, merge_targets, parse_since,
                                 plan_fixes, survivor, unmatched, unread_masters,
                                 window_emails)
from connector.render.reconcile import describe_plan, render
from connector.sandbox import Sandbox
from connector.adapters.sqlite.ledger import State
from sync_helpers import Org

TOKEN = "tok-reconcile-51ab-very-secret"
NOW = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


# -- the window ----------------------------------------------------------------------------------

def test_since_parsing():
    assert parse_since(None, now=NOW) == datetime(2026, 1, 30, 12, tzinfo=timezone.utc)
    assert parse_since("2026-02-01", now=NOW) == datetime(2026, 2, 1, tzinfo=timezone.utc)
    assert parse_since("2026-02-01T09:30:00", now=NOW) == datetime(2026, 2, 1, 9, 30, tzinfo=timezone.utc)
    assert parse_since("2026-02-01T09:30:00+01:00", now=NOW) == datetime(2026, 2, 1, 8, 30, tzinfo=timezone.utc)
    assert parse_since("2026-02-01T09:30:00Z", now=NOW) == datetime(2026, 2, 1, 9, 30, tzinfo=timezone.utc)
    for bad in ("last week", "2026-13-01", "2027-01-01"):
        with pytest.raises(ConfigError, match="--since"):
            parse_since(bad, now=NOW)


# -- the comparison (pure) -----------------------------------------------------------------------

def sub(cid: str, form: str, at: int, email: str) -> Submission:
    return Submission(cid, form, at, {"email": email})


def row(cid: str, **kw) -> dict:
    base = {"conversion_id": cid, "form_id": "f1", "submitted_at": 100, "email": f"{cid}@x.example",
            "campaign_id": "C1", "action": "attach_lead", "status": "applied", "lead_id": None,
            "contact_id": None, "member_id": None}
    return {**base, **kw}


def member(mid: str, record: str, status: str = "Responded", responded: bool = True, **kw) -> dict:
    return {"Id": mid, "CampaignId": "C1", "LeadId": record if record.startswith("00Q") else None,
            "ContactId": record if record.startswith("003") else None, "Status": status,
            "HasResponded": responded, **kw}


def test_compare_finds_each_kind_of_drift():
    subs = [sub("ok", "f1", 100, "ok@x.example"), sub("missed", "f1", 150, " Missed@X.example "),
            sub("new", "f1", 900, "new@x.example")]
    ledger = [
        row("ok", lead_id="00Q1", member_id="00v1"),
        row("rekeyed", lead_id="00Q2", member_id="00vOLD"),          # re-added by hand, new Id
        row("nomember", lead_id="00Q3", member_id="00v3"),           # membership deleted
        row("converted", lead_id="00Q4", member_id="00v4"),          # converted, membership gone
        row("gone", lead_id="00Q5", member_id="00v5", action="create_lead"),  # Lead deleted
        row("sent", contact_id="0031", member_id="00v6", action="attach_contact"),
        row("attended", contact_id="0032", member_id="00v7", action="attach_contact"),
        row("junk", status="failed", action="failed", error_code="INVALID_EMAIL", error="no email"),
        row("crashed", status="pending", lead_id="00Q8"),
    ]
    members = [member("00v1", "00Q1"), member("00vNEW", "00Q2"),
               member("00v6", "0031", "Sent", responded=False),
               member("00v7", "0032", "Attended", responded=True)]
    records = {"00Q3": {"Id": "00Q3", "IsConverted": False},
               "00Q4": {"Id": "00Q4", "IsConverted": True, "ConvertedContactId": "0039"}}
    open_leads = [{"Id": "00QA", "Email": "dup@x.example", "CreatedDate": "2026-01-02"},
                  {"Id": "00QB", "Email": "DUP@x.example", "CreatedDate": "2026-01-01"},
                  {"Id": "00Q1", "Email": "ok@x.example", "CreatedDate": "2026-01-01"}]
    assert [r["conversion_id"] for r in unmatched(ledger, members)] == ["nomember", "converted", "gone"]
    drift = compare(Sources(subs, ledger, members, records, open_leads, frozenset({"00QA"}),
                            {"f1": 500}, {"C1": "Responded"}))
    ids = {name: [i.get("conversion_id") or i.get("email") for i in items]
           for name, items in drift.items.items()}
    assert ids == {"missed": ["missed"], "pending": ["crashed"],
                   "missing_membership": ["nomember", "converted"], "status_differs": ["sent"],
                   "missing_record": ["gone"], "duplicates": ["dup@x.example"], "parked": ["junk"],
                   "unsynced": ["new"], "moved_on": ["attended"], "merged": [], "broken_campaign": []}
    assert drift.items["missed"][0]["email"] == "missed@x.example"
    converted = drift.items["missing_membership"][1]
    assert (converted["target_sobject"], converted["target_id"]) == ("Contact", "0039")
    assert drift.items["missing_record"][0]["created_by_leadsync"] is True
    assert [(lead["id"], lead["created_by_leadsync"]) for lead in drift.items["duplicates"][0]["leads"]] == [
        ("00QB", False), ("00QA", True)]
    assert drift.total == 8 and drift.fixable == 5

    plan = plan_fixes(drift, {"missed", "new", "crashed"})
    assert plan.apply == ("missed", "crashed")
    assert [m["conversion_id"] for m in plan.memberships] == ["nomember", "converted"]
    assert [s["member_id"] for s in plan.statuses] == ["00v6"]


def lead_row(rid: str, deleted: bool = False, master: str | None = None, **kw) -> dict:
    return {"attributes": {"type": "Lead"}, "Id": rid, "IsDeleted": deleted, "MasterRecordId": master,
            "IsConverted": False, **kw}


def test_compare_follows_merged_records_to_their_survivor():
    ledger = [
        row("moved", lead_id="00QL1", member_id="00v1"),          # merge moved the membership
        row("lost", lead_id="00QL2", member_id="00v2"),           # merged twice, membership gone
        row("kept", lead_id="00QL3", member_id="00v3"),           # master already a member (Sent)
        row("toconv", lead_id="00QL5", member_id="00v5"),         # survivor converted since
        row("deleted", lead_id="00QL6", member_id="00v6"),        # deleted, no merge
        row("chain", lead_id="00QL7", member_id="00v7"),          # merged into one not read
        row("contact", contact_id="0031", member_id="00v8", action="attach_contact"),
    ]
    members = [member("00v1", "00QM1"), member("00vM4", "00QM4", "Sent", responded=False),
               member("00v8", "0032")]
    records = {r["Id"]: r for r in [
        lead_row("00QL2", True, "00QM2"), lead_row("00QM2", True, "00QM3"), lead_row("00QM3"),
        lead_row("00QL3", True, "00QM4"), lead_row("00QM4"),
        lead_row("00QL5", True, "00QM5"), lead_row("00QM5", IsConverted=True, ConvertedContactId="0035"),
        lead_row("00QL6", True), lead_row("00QL7", True, "00QM7")]}
    assert unread_masters(records) == [("Lead", "00QM7")]
    assert (survivor("00QL2", records), survivor("00QM3", records), survivor("00QL6", records),
            survivor("00QL7", records), survivor("00QXX", records)) == ("00QM3", "00QM3", None, None, None)
    assert merge_targets(ledger, records) == ({"C1"}, {"00QM3", "00QM4", "00QM5", "0035"})

    drift = compare(Sources([], ledger, members, records, [], frozenset(), {}, {"C1": "Responded"}))
    items = drift.items
    assert [(i["conversion_id"], i["merged_into"], i["member_id"]) for i in items["merged"]] == [
        ("moved", "00QM1", "00v1"), ("kept", "00QM4", "00vM4"), ("contact", "0032", "00v8")]
    assert [(i["conversion_id"], i["merged_into"], i["target_sobject"], i["target_id"])
            for i in items["missing_membership"]] == [("lost", "00QM3", "Lead", "00QM3"),
                                                       ("toconv", "00QM5", "Contact", "0035")]
    assert [i["conversion_id"] for i in items["status_differs"]] == ["kept"]
    assert [(i["conversion_id"], i["why"]) for i in items["missing_record"]] == [
        ("deleted", "the Lead was deleted; recreating it is the admin's call"),
        ("chain", "the Lead was merged into 00QM7, which is gone too; recreating it is the admin's call")]
    assert drift.total == 5 and drift.fixable == 3           # merged is not drift

    plan = plan_fixes(drift, [])
    assert [m["conversion_id"] for m in plan.memberships] == ["lost", "toconv"]
    assert [r["conversion_id"] for r in plan.relinks] == ["moved", "kept", "contact"]
    preview = "\n".join(describe_plan(plan))
    assert "add Lead 00QM3 (lost@x.example) to campaign C1 as 'Responded' (Lead 00QL2 was merged into it" in preview
    assert "point the ledger row of moved (moved@x.example) at Lead 00QM1 and its membership 00v1" in preview
    text = render(drift, since="2026-01-01", responses=0, calls={})
    assert "merged: the record was merged into another" in text and "00QL2 merged into 00QM3" in text


def test_clean_sources_are_clean_and_emails_are_normalised():
    subs = [sub("a", "f1", 100, "A@x.example"), sub("b", "f1", 100, "not an email")]
    ledger = [row("a", lead_id="00Q1", member_id="00v1", email="a@x.example")]
    assert window_emails(subs, ledger) == ["a@x.example"]
    drift = compare(Sources(subs[:1], ledger, [member("00v1", "00Q1")], {}, [], frozenset(), {"f1": 100},
                            {"C1": "Responded"}))
    assert drift.total == 0 and drift.fixable == 0


# -- against the sandbox --------------------------------------------------------------------------

@pytest.fixture
def org(tmp_path):
    with Sandbox(token=TOKEN) as sandbox:
        o = Org(sandbox, tmp_path / "leadsync.db")
        o.add_forms(2)
        yield o






def ledger_row(org: Org, email: str) -> dict:
    state = State.open_read_only(org.state_path)
    try:
        return next(r for r in state.rows() if r["email"] == email)
    finally:
        state.db.conn.close()


SINCE = ["--since", "2025-11-01"]


def reconcile(org: Org, config: Path, *args: str):
    result = CliRunner().invoke(main, ["reconcile", "--config", str(config), *SINCE, *args], env=org.env())
    assert TOKEN not in result.output
    return result


def test_finds_each_kind_of_drift_fixes_the_safe_ones_and_leaves_the_admins_call(org, tmp_path):
    config = org.write_config(tmp_path / "c.toml")
    people = ["ann", "bob", "cat", "dan", "eve", "fay"]
    for i, name in enumerate(people):
        org.fill(i % 2, f"{name}@acme.example", lastname=name.title(), company="Acme")
    org.fill(0, "not-an-email", lastname="Junk")
    assert CliRunner().invoke(main, ["sync", "--config", str(config)], env=org.env()).exit_code == 3

    clean = reconcile(org, config, "--json")
    assert json.loads(clean.output)["counts"]["parked"] == 1  # the junk; nothing else yet
    assert json.loads(clean.output)["drift"] == 1

    # Drift, made the way it happens in real orgs:
    ann = ledger_row(org, "ann@acme.example")                  # 1. the ledger lost a row
    with sqlite3.connect(org.state_path) as db:
        db.execute("DELETE FROM ledger WHERE conversion_id = ?", [ann["conversion_id"]])
    bob = ledger_row(org, "bob@acme.example")                  # 2. a membership deleted
    org.sf.delete("CampaignMember", bob["member_id"])
    cat = ledger_row(org, "cat@acme.example")                  # 3. a Lead deleted
    org.sf.delete("Lead", cat["lead_id"])
    dan = ledger_row(org, "dan@acme.example")                  # 4. a status moved back
    org.sf.update("CampaignMember", dan["member_id"], {"Status": "Sent"})
    eve = ledger_row(org, "eve@acme.example")                  # 5. a duplicate Lead by hand
    by_hand = org.sf.insert("Lead", {"LastName": "Eve", "Company": "Acme", "Email": "EVE@acme.example"})
    org.fill(1, "gus@acme.example", lastname="Gus")            # 6. new since the last sync
    leads_before, members_before = len(org.leads()), len(org.members())

    result = reconcile(org, config, "--json")
    assert result.exit_code == 3, result.output
    report = json.loads(result.output)
    items = report["items"]
    assert [i["conversion_id"] for i in items["missed"]] == [ann["conversion_id"]]
    assert [i["email"] for i in items["missing_membership"]] == ["bob@acme.example"]
    assert [(i["email"], i["record_id"], i["created_by_leadsync"]) for i in items["missing_record"]] == [
        ("cat@acme.example", cat["lead_id"], True)]
    assert [(i["email"], i["status"]) for i in items["status_differs"]] == [("dan@acme.example", "Sent")]
    assert [(d["email"], [(lead["id"], lead["created_by_leadsync"]) for lead in d["leads"]])
            for d in items["duplicates"]] == [("eve@acme.example", [(eve["lead_id"], True), (by_hand, False)])]
    assert [i["error_code"] for i in items["parked"]] == ["INVALID_EMAIL"] or len(items["parked"]) == 1
    assert [i["email"] for i in items["unsynced"]] == ["gus@acme.example"]
    assert report["drift"] == 6 and report["fixable"] == 3
    assert report["responses"] == 8 and report["calls"]["salesforce"] <= 3

    # --fix with no terminal and no --yes: the preview, and nothing changes.
    result = reconcile(org, config, "--fix")
    assert result.exit_code == 3
    assert "Fix plan:" in result.output and "nothing changed" in result.output
    assert (len(org.leads()), len(org.members())) == (leads_before, members_before)
    assert ledger_row(org, "dan@acme.example")["member_id"] == dan["member_id"]
    assert org.sf.get("CampaignMember", dan["member_id"])["Status"] == "Sent"

    # --fix --yes repairs what is safe, through the sync's idempotent paths.
    result = reconcile(org, config, "--fix", "--yes")
    assert result.exit_code == 3, result.output
    assert "1 membership(s) recreated, 1 status(es) set" in result.output
    assert len(org.leads("ann@acme.example")) == 1               # re-resolved, not doubled
    assert ledger_row(org, "ann@acme.example")["status"] == "applied"
    bob_now = ledger_row(org, "bob@acme.example")
    bob_member = org.sf.get("CampaignMember", bob_now["member_id"])
    assert bob_member["LeadId"] == bob["lead_id"] and bob_member["Status"] == "Responded"
    assert org.sf.get("CampaignMember", dan["member_id"])["Status"] == "Responded"
    assert org.leads("cat@acme.example") == []                   # a deleted Lead stays deleted
    assert len(org.members()) == members_before + 1

    # The rerun reports only the admin's call.
    report = json.loads(reconcile(org, config, "--json").output)
    assert {name for name, n in report["counts"].items() if n} == {"missing_record", "duplicates", "parked",
                                                                   "unsynced"}
    assert report["fixable"] == 0 and report["drift"] == 3

    # A fix with nothing safe to do says so and changes nothing.
    result = reconcile(org, config, "--fix", "--yes")
    assert result.exit_code == 3 and "Nothing safe to fix" in result.output


def test_fix_asks_at_a_terminal(org, tmp_path, monkeypatch):
    config = org.write_config(tmp_path / "c.toml")
    org.fill(0, "ann@acme.example", lastname="Ann")
    assert CliRunner().invoke(main, ["sync", "--config", str(config)], env=org.env()).exit_code == 0
    ann = ledger_row(org, "ann@acme.example")
    org.sf.delete("CampaignMember", ann["member_id"])
    monkeypatch.setattr("connector.cli._can_ask", lambda: True)
    run = ["reconcile", "--config", str(config), *SINCE, "--fix"]
    refused = CliRunner().invoke(main, run, env=org.env(), input="n\n")
    assert "Apply these 1 change(s)?" in refused.output and refused.exit_code == 3
    assert "Nothing changed." in refused.output and org.members() == []
    accepted = CliRunner().invoke(main, run, env=org.env(), input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert [m["LeadId"] for m in org.members()] == [ann["lead_id"]]


def test_clean_window_exits_0_and_a_bad_since_exits_2(org, tmp_path):
    config = org.write_config(tmp_path / "c.toml")
    org.fill(0, "ann@acme.example", lastname="Ann")
    assert CliRunner().invoke(main, ["sync", "--config", str(config)], env=org.env()).exit_code == 0
    result = reconcile(org, config)
    assert result.exit_code == 0, result.output
    assert "clean" in result.output
    result = CliRunner().invoke(main, ["reconcile", "--config", str(config), "--since", "yesterday"],
                                env=org.env())
    assert result.exit_code == 2 and "--since" in result.output


def test_a_month_of_responses_costs_a_few_calls_per_thousand(org, tmp_path):
    config = org.write_config(tmp_path / "c.toml")
    for i in range(1000):
        org.fill(i % 2, f"person{i}@acme.example", lastname=f"P{i}")
    assert CliRunner().invoke(main, ["sync", "--config", str(config)], env=org.env()).exit_code == 0
    report = json.loads(reconcile(org, config, "--json").output)
    assert report["responses"] == 1000 and report["drift"] == 0
    # HubSpot pages 50 at most; Salesforce: members by Id + open Leads by email, in one
    # composite call of a few statements.
    assert report["calls"]["hubspot"] <= 1000 // 50 + 2
    assert report["calls"]["salesforce"] <= 2, report["calls"]


# -- merged Leads ---------------------------------------------------------------------------------

def by_hand(org: Org, email: str, **fields) -> str:
    return org.sf.insert("Lead", {"LastName": "By Hand", "Company": "Acme", "Email": email, **fields},
                         allow_duplicates=True)


def test_a_merge_that_moved_the_membership_is_fine_and_fix_points_the_ledger_at_the_survivor(org, tmp_path):
    config = org.write_config(tmp_path / "c.toml")
    org.fill(0, "ann@acme.example", lastname="Ann")
    assert CliRunner().invoke(main, ["sync", "--config", str(config)], env=org.env()).exit_code == 0
    ann = ledger_row(org, "ann@acme.example")
    master = by_hand(org, "Ann@acme.example")                   # a rep keyed her in too
    report = json.loads(reconcile(org, config, "--json").output)
    assert [d["email"] for d in report["items"]["duplicates"]] == ["ann@acme.example"]

    org.sf.merge("Lead", master, [ann["lead_id"]])             # the admin merges the pair
    result = reconcile(org, config, "--json")
    assert result.exit_code == 0, result.output                 # the membership moved with it
    report = json.loads(result.output)
    assert report["drift"] == 0 and report["calls"]["salesforce"] == 1
    assert [(i["conversion_id"], i["record_id"], i["merged_into"], i["member_id"])
            for i in report["items"]["merged"]] == [(ann["conversion_id"], ann["lead_id"], master, ann["member_id"])]

    result = reconcile(org, config, "--fix", "--yes")
    assert result.exit_code == 0, result.output
    assert "1 ledger row(s) pointed at a merge survivor" in result.output
    now = ledger_row(org, "ann@acme.example")
    assert (now["lead_id"], now["merged_from"], now["member_id"]) == (master, ann["lead_id"], ann["member_id"])
    report = json.loads(reconcile(org, config, "--json").output)
    assert report["drift"] == 0 and not any(report["counts"].values())
    assert len(org.members()) == 1 and org.members()[0]["LeadId"] == master


def test_merged_leads_are_followed_to_the_survivor_and_fix_recreates_lost_memberships(org, tmp_path):
    config = org.write_config(tmp_path / "c.toml")
    for name in ("bob", "cat", "dan", "eve"):
        org.fill(0, f"{name}@acme.example", lastname=name.title())
    assert CliRunner().invoke(main, ["sync", "--config", str(config)], env=org.env()).exit_code == 0
    bob, cat, dan, eve = (ledger_row(org, f"{n}@acme.example") for n in ("bob", "cat", "dan", "eve"))
    campaign = org.campaigns[0]

    # bob: merged into a Lead typed by hand; then the membership was removed from the survivor.
    bob_master = by_hand(org, "bob@acme.example")
    org.sf.merge("Lead", bob_master, [bob["lead_id"]])
    org.sf.delete("CampaignMember", bob["member_id"])
    # cat: merged, and the survivor merged again into a third Lead; membership lost on the way.
    cat_first, cat_last = by_hand(org, "cat@acme.example"), by_hand(org, "cat@acme.example")
    org.sf.merge("Lead", cat_first, [cat["lead_id"]])
    org.sf.delete("CampaignMember", cat["member_id"])
    org.sf.merge("Lead", cat_last, [cat_first])
    # dan: the master was already in the campaign (Sent), so the merge dropped leadsync's membership.
    dan_master = by_hand(org, "dan@acme.example")
    dan_member = org.sf.insert("CampaignMember", {"CampaignId": campaign, "LeadId": dan_master, "Status": "Sent"})
    org.sf.merge("Lead", dan_master, [dan["lead_id"]])
    # eve: deleted outright, no survivor.
    org.sf.delete("Lead", eve["lead_id"])
    leads_before = len(org.leads())

    result = reconcile(org, config, "--json")
    assert result.exit_code == 3, result.output
    report = json.loads(result.output)
    items = report["items"]
    assert [(i["email"], i["merged_into"], i["target_id"]) for i in items["missing_membership"]] == [
        ("bob@acme.example", bob_master, bob_master), ("cat@acme.example", cat_last, cat_last)]
    assert [(i["email"], i["merged_into"], i["member_id"]) for i in items["merged"]] == [
        ("dan@acme.example", dan_master, dan_member)]
    assert [(i["email"], i["status"]) for i in items["status_differs"]] == [("dan@acme.example", "Sent")]
    assert [(i["email"], i["why"]) for i in items["missing_record"]] == [
        ("eve@acme.example", "the Lead was deleted; recreating it is the admin's call")]
    # members by Id + open Leads; members by key; records (queryAll); masters twice (cat was
    # merged twice); memberships on the survivors.
    assert report["fixable"] == 3 and report["calls"]["salesforce"] == 6

    text = reconcile(org, config, "--fix", "--yes")
    assert text.exit_code == 3, text.output                     # eve stays the admin's call
    assert ("2 membership(s) recreated, 1 status(es) set, 1 ledger row(s) pointed at a merge survivor"
            in text.output)
    assert len(org.leads()) == leads_before                     # no Lead recreated
    for person, survivor_id in ((bob, bob_master), (cat, cat_last), (dan, dan_master)):
        now = ledger_row(org, person["email"])
        assert (now["lead_id"], now["merged_from"]) == (survivor_id, person["lead_id"])
        on_survivor = org.sf.get("CampaignMember", now["member_id"])
        assert (on_survivor["LeadId"], on_survivor["CampaignId"], on_survivor["Status"]) == (
            survivor_id, campaign, "Responded")
    assert org.members(dan_master)[0]["Id"] == dan_member

    report = json.loads(reconcile(org, config, "--json").output)     # the rerun: only eve
    assert {name for name, n in report["counts"].items() if n} == {"missing_record"}
    assert report["fixable"] == 0 and report["calls"]["salesforce"] <= 3


# -- a campaign that cannot take members (issue 17 item 2) -----------------------------------------

def test_what_a_broken_campaign_would_take_is_set_aside_not_offered_to_fix():
    """Memberships in a deleted campaign and responses of a form whose campaign is inactive
    are a configuration problem, named by its entry: never in the fix plan."""
    from connector.core.campaigns import CampaignEntry, CampaignFacts, MemberStatus, OrgCampaigns
    from connector.core.reconcile import broken_campaigns, campaign_entries_for, set_aside_broken

    subs = [sub("missed", "f2", 150, "missed@x.example")]
    ledger = [row("nomember", lead_id="00Q3", member_id="00v3"),
              row("sent", contact_id="0031", member_id="00v6", action="attach_contact"),
              row("other", lead_id="00Q4", member_id="00v4", campaign_id="C2", form_id="f2"),
              row("crashed", status="pending", lead_id="00Q8", form_id="f2", campaign_id="C2")]
    members = [member("00v6", "0031", "Sent", responded=False)]
    records = {"00Q3": {"Id": "00Q3", "IsConverted": False}, "00Q4": {"Id": "00Q4", "IsConverted": False}}
    drift = compare(Sources(subs, ledger, members, records, [], frozenset(), {"f2": 500},
                            {"C1": "Responded", "C2": "Responded"}))
    assert drift.fixable == 5

    c1, c2, old = "701000000000001AAA", "701000000000002AAA", "701000000000009AAA"
    configured = [CampaignEntry(0, "f1", c1, "Responded"), CampaignEntry(1, "f2", c2, "Responded")]
    entries = campaign_entries_for(configured, [*ledger, row("x", campaign_id=old)])
    assert [(e.index, e.campaign_id) for e in entries] == [(0, c1), (1, c2), (-1, old), (-1, "C1"),
                                                           (-1, "C2")]
    responded = (MemberStatus("Responded", True),)
    org_now = OrgCampaigns({c2: CampaignFacts(c2, "Two", False, responded),
                            "C1": CampaignFacts("C1", "One", True, responded)}, {})
    forms, campaigns = broken_campaigns([configured[1], CampaignEntry(-1, "", old, "Responded")], org_now)
    assert forms == {"f2": f"campaigns[1] (form f2, campaign_id '{c2}'): campaign 'Two' is inactive; "
                           "make it Active (or map the form to another campaign)"}
    assert campaigns == {c2: forms["f2"], old: f"campaign {old} (no [[campaigns]] entry names it now): "
                         f"no campaign {old} in this org (deleted, or not visible to the integration user)"}
    assert broken_campaigns(configured, None) == ({}, {})

    deleted = "campaigns[0] (form f1, campaign_id 'C1'): no campaign C1 in this org (deleted, ...)"
    inactive = "campaigns[1] (form f2, campaign_id 'C2'): campaign 'Two' is inactive; ..."
    set_aside_broken(drift, {"f2": inactive}, {"C1": deleted})
    assert [(i["conversion_id"], i["would_be"], i["config"]) for i in drift.items["broken_campaign"]] == [
        ("crashed", "pending", inactive), ("missed", "missed", inactive),
        ("nomember", "missing_membership", deleted), ("sent", "status_differs", deleted)]
    assert [i["conversion_id"] for i in drift.items["missing_membership"]] == ["other"]
    assert drift.fixable == 1 and drift.total == 5
    plan = plan_fixes(drift, {"missed", "crashed"})
    assert plan.apply == () and [m["conversion_id"] for m in plan.memberships] == ["other"]
    assert plan.statuses == ()
    text = render(drift, since="2026-01-01", responses=1, calls={})
    assert "campaign cannot take members: fix the [[campaigns]] entry" in text
    assert "missing membership: campaigns[0] (form f1, campaign_id 'C1'): no campaign C1" in text


def test_memberships_in_a_deleted_campaign_are_the_admins_call_not_fixable(org, tmp_path):
    config = org.write_config(tmp_path / "c.toml")
    org.fill(0, "ann@acme.example", lastname="Ann", company="Acme")
    org.fill(1, "bob@acme.example", lastname="Bob", company="Acme")
    assert CliRunner().invoke(main, ["sync", "--config", str(config)], env=org.env()).exit_code == 0
    ann, bob = ledger_row(org, "ann@acme.example"), ledger_row(org, "bob@acme.example")
    org.sf.delete("Campaign", org.campaigns[0])                 # ann's membership goes with it
    org.sf.delete("CampaignMember", bob["member_id"])           # bob's campaign is fine

    report = json.loads(reconcile(org, config, "--json").output)
    items = report["items"]
    assert [i["email"] for i in items["missing_membership"]] == ["bob@acme.example"]
    [broken] = items["broken_campaign"]
    assert (broken["email"], broken["would_be"], broken["campaign_id"]) == (
        "ann@acme.example", "missing_membership", org.campaigns[0])
    assert broken["config"].startswith(f"campaigns[0] (form {org.forms[0]}, campaign_id "
                                       f"'{org.campaigns[0]}'): no campaign {org.campaigns[0]}")
    assert report["fixable"] == 1 and report["drift"] == 2

    result = reconcile(org, config, "--fix", "--yes")
    assert result.exit_code == 3, result.output
    assert "1 membership(s) recreated" in result.output and "error:" not in result.output
    assert [m["LeadId"] for m in org.members()] == [bob["lead_id"]]
    again = reconcile(org, config, "--fix", "--yes")
    assert "Nothing safe to fix" in again.output and "campaign cannot take members" in again.output
    assert json.loads(reconcile(org, config, "--json").output)["counts"]["broken_campaign"] == 1
    assert ann["lead_id"] and org.leads("ann@acme.example")


def test_since_as_a_duration_is_that_long_before_now():
    assert parse_since("7d", now=NOW) == datetime(2026, 2, 22, 12, tzinfo=timezone.utc)
    assert parse_since("36h", now=NOW) == datetime(2026, 2, 28, tzinfo=timezone.utc)
    assert parse_since(" 1d12h ", now=NOW) == datetime(2026, 2, 28, tzinfo=timezone.utc)
    for bad in ("7", "0d", "7 days", "-7d"):
        with pytest.raises(ConfigError, match="--since"):
            parse_since(bad, now=NOW)
