"""Issue 17 item 3: counts say exactly what was created, also after a replay.

A reply lost on a Lead create (the sandbox's "apply the write, then drop the reply") made the
engine re-decide the batch; without ``lead_external_id_field`` the lookup found the Leads the
lost write made and every one was recorded and counted ``attach_lead``: "8 attached" when
Salesforce gained 8 Leads. The ledger's pending ``create_lead`` intent and the Lead's
CreatedDate after it now tell a replayed create from an attach.
"""

from __future__ import annotations

import collections
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from connector.adapters.sqlite.ledger import State
from connector.core.batch import REPLAY_CLOCK_SKEW_MS, replayed_creates
from connector.core.counts import Count
from connector.core.model import Action, Outcome, Record, Response, Status
from connector.sandbox import Sandbox
from sync_helpers import Org


@pytest.fixture
def org(tmp_path):
    with Sandbox(seed=11) as sandbox:
        o = Org(sandbox, tmp_path / "leadsync.db")
        o.add_forms(1)
        yield o


def ledger(org: Org) -> list[dict]:
    state = State.open_read_only(org.state_path)
    try:
        return state.rows()
    finally:
        state.db.conn.close()


@pytest.mark.parametrize("method", ["unique", "hybrid"])
def test_a_lost_reply_on_the_lead_create_is_still_counted_created(org, method):
    for i in range(8):
        org.fill(0, f"p{i}@example.com", lastname=f"L{i}", company="Acme")
    org.sandbox.app.faults.configure(families=["salesforce.collections"], fail_next=["apply_then_drop"])
    report = org.sync(method)
    assert report.status == "ok", report.error
    assert report.counts[Count.REPLANNED_BATCHES] == 1

    leads = {lead["Id"]: lead for lead in org.leads()}
    rows = ledger(org)
    assert len(leads) == 8
    assert collections.Counter(r["action"] for r in rows) == {"create_lead": 8}
    assert {r["lead_id"] for r in rows} == set(leads)
    assert not any(r["member_existed"] for r in rows)
    assert report.counts[Count.CREATED_LEADS] == 8 and report.counts[Count.ATTACHED] == 0
    assert all("interrupted run or attempt" in r["reason"] for r in rows)


def _pending_create(org: Org, email: str, **values: str) -> str:
    """A run killed after its intent: the ledger holds the response as a pending create."""
    cid = org.fill(0, email, lastname="Kay", company="Acme", **values)
    state = State.open(org.state_path)
    try:
        state.record_intents([Outcome(cid, org.forms[0], org.clock, email, Action.CREATE_LEAD,
                                      Status.PENDING, campaign_id=org.campaigns[0])], "killed-run")
    finally:
        state.close()
    return cid


def test_a_run_killed_after_the_create_and_the_membership_resumes_as_created(org):
    cid = _pending_create(org, "kay@example.com")
    lead = org.sf.insert("Lead", {"LastName": "Kay", "Company": "Acme", "Email": "kay@example.com"})
    org.sf.insert("CampaignMember", {"CampaignId": org.campaigns[0], "LeadId": lead, "Status": "Responded"})

    report = org.sync("unique")
    assert report.status == "ok", report.error
    [row] = [r for r in ledger(org) if r["conversion_id"] == cid]
    assert (row["action"], row["status"], row["lead_id"], row["member_existed"]) == (
        "create_lead", "applied", lead, 0)
    assert report.counts[Count.CREATED_LEADS] == 1 and report.counts[Count.ALREADY_MEMBER] == 0
    assert len(org.leads()) == 1 and len(org.members()) == 1


def test_a_lead_older_than_the_intent_is_someone_elses_and_is_attached(org):
    lead = org.sf.insert("Lead", {"LastName": "Kay", "Company": "Acme", "Email": "kay@example.com"})
    cid = _pending_create(org, "kay@example.com")
    later = (datetime.now(timezone.utc) + timedelta(minutes=10)).isoformat(timespec="milliseconds")
    with sqlite3.connect(org.state_path) as db:   # the intent, recorded well after the Lead
        db.execute("UPDATE ledger SET updated_at = ? WHERE conversion_id = ?", [later, cid])
    report = org.sync("unique")
    [row] = [r for r in ledger(org) if r["conversion_id"] == cid]
    assert (row["action"], row["lead_id"]) == ("attach_lead", lead)
    assert report.counts[Count.ATTACHED] == 1 and report.counts[Count.CREATED_LEADS] == 0


def response(cid: str, email: str) -> Response:
    return Response(cid, "f", 0, email, {}, "C", "Responded")


def test_replayed_creates_claims_only_what_is_unambiguous():
    at = 1_763_000_000_000
    after, before = "2025-11-13T02:13:21.000+0000", "2025-11-13T01:00:00.000+0000"
    assert at - REPLAY_CLOCK_SKEW_MS <= 1_763_000_001_000
    leads = [Record("00Q1", "Lead", "a@x.example", after), Record("00Q2", "Lead", "b@x.example", before),
             Record("00Q3", "Lead", "c@x.example", after), Record("00Q4", "Lead", "c@x.example", after),
             Record("00Q5", "Lead", "d@x.example", after), Record("00Q6", "Lead", "e@x.example", after)]
    responses = [response("a", "a@x.example"), response("b", "b@x.example"), response("c", "c@x.example"),
                 response("d1", "d@x.example"), response("d2", "d@x.example"),
                 response("e", "e@x.example"), response("f", "f@x.example")]
    intents = {cid: at for cid in ("a", "b", "c", "d1", "d2", "e", "f")}
    found = replayed_creates(responses, leads, intents, {"e": Record("00Q6", "Lead", "e@x.example")})
    # a: one Lead made after the intent; b: made before it (someone else's); c: two Leads, not
    # told apart; d: two pending creates for one email; e: recovered already; f: no Lead.
    assert found == {"a": leads[0]}


def test_a_lost_reply_on_a_contact_create_is_still_counted_created(org):
    """As for Leads: a Contact the lost write made (a new person at a matched Account, with
    ``new_person = "contact"``) is found by the replay's lookup; the pending
    ``create_contact`` intent and its CreatedDate tell it from someone else's Contact."""
    acme = org.sf.insert("Account", {"Name": "Acme Inc.", "Website": "https://www.acme.com/"})
    for i in range(3):
        org.fill(0, f"p{i}@acme.com", lastname=f"L{i}", company="Acme")
    org.sandbox.app.faults.configure(families=["salesforce.collections"], fail_next=["apply_then_drop"])
    report = org.sync("unique", accounts={"new_person": "contact"})
    assert report.status == "ok", report.error
    assert report.counts[Count.REPLANNED_BATCHES] == 1

    contacts = {c["Id"]: c for c in org.sf.records("Contact")}
    assert len(contacts) == 3 and {c["AccountId"] for c in contacts.values()} == {acme}
    rows = ledger(org)
    assert collections.Counter(r["action"] for r in rows) == {"create_contact": 3}
    assert {r["contact_id"] for r in rows} == set(contacts)
    assert not any(r["member_existed"] for r in rows)
    assert report.counts[Count.CREATED_CONTACTS] == 3 and report.counts[Count.ATTACHED] == 0
