"""Issue 16, "Real orgs": the connector's writes against the rules a real org enforces.

Each test runs the real simple-salesforce client against the sandbox over loopback (the
sandbox refuses what a real org refuses, see docs/sandbox-org-rules.md), or scripts a
recorded reply with ``responses`` where that is clearest.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from connector.adapters.salesforce.client import SalesforceClient
from connector.adapters.sqlite.ledger import State
from connector.adapters.transport import RetryPolicy
from connector.config.settings import SalesforceSettings, Secret
from connector.sandbox import Sandbox
from sync_helpers import Org


def client_for(sandbox: Sandbox, **settings: Any) -> SalesforceClient:
    return SalesforceClient(SalesforceSettings(sandbox.url, access_token=Secret(sandbox.token),
                                               **settings), retry=RetryPolicy.fast())


@pytest.fixture
def org(tmp_path: Any) -> Iterator[Org]:
    with Sandbox() as sandbox:
        o = Org(sandbox, tmp_path / "state" / "leadsync.db")
        o.add_forms(2)
        yield o


def seed_interleaved(org: Org, n: int = 20) -> list[str]:
    """n Leads and n Contacts without a phone; their emails alternate Lead, Contact, ..."""
    sf = org.sf
    account = sf.insert("Account", {"Name": "Initech"})
    emails = []
    for i in range(n):
        lead_email, contact_email = f"lead{i}@globex.example", f"contact{i}@initech.example"
        sf.insert("Lead", {"LastName": f"Lead{i}", "Company": "Globex", "Email": lead_email})
        sf.insert("Contact", {"LastName": f"Contact{i}", "Email": contact_email, "AccountId": account})
        emails += [lead_email, contact_email]
    return emails


# -- 1. mixed-type collections: at most 10 chunks -------------------------------------------

def test_mixed_updates_are_grouped_by_type_and_results_keep_their_order(sandbox):
    sf = sandbox.app.salesforce
    records: list[tuple[str, dict[str, Any]]] = []
    for i in range(20):
        lead = sf.insert("Lead", {"LastName": f"L{i}", "Company": "Acme", "Email": f"l{i}@a.example"})
        contact = sf.insert("Contact", {"LastName": f"C{i}", "Email": f"c{i}@a.example"})
        records.append(("Lead", {"id": lead, "Title": f"lead title {i}"}))
        # every fourth Contact is refused, so each result must land on its own record
        title = "x" * 200 if i % 4 == 0 else f"contact title {i}"
        records.append(("Contact", {"id": contact, "Title": title}))

    results = client_for(sandbox).update_mixed(records)

    assert len(results) == 40
    for (sobject, record), result in zip(records, results):
        refused = sobject == "Contact" and record["Title"].startswith("xxx")
        assert result["success"] is (not refused), (sobject, record, result)
        if refused:
            assert result["errors"][0]["statusCode"] == "STRING_TOO_LONG"
        else:
            assert sf.get(sobject, record["id"])["Title"] == record["Title"]


def test_a_batch_filling_blanks_on_20_leads_and_20_contacts_interleaved_is_applied(org):
    emails = seed_interleaved(org)
    for i, email in enumerate(emails):
        org.fill(i % 2, email, phone=f"+1 415 555 {1000 + i:04d}")

    report = org.sync("unique")

    assert report.status == "ok", report.error
    assert report.counts["failed"] == 0
    phones = {r["Email"]: r.get("Phone") for r in [*org.sf.records("Lead"), *org.sf.records("Contact")]}
    assert all(phones[e] for e in emails), phones
    assert {r["status"] for r in State.open(org.state_path).rows()} == {"applied"}


# -- 5. REQUEST_LIMIT_EXCEEDED: the day's allowance stops, the concurrent limit is waited out --

def test_the_concurrent_requests_limit_is_retried(sandbox):
    sandbox.app.salesforce.insert("Lead", {"LastName": "L", "Company": "Acme", "Email": "l@a.example"})
    sandbox.app.faults.configure(fail_next=["concurrent_limit", "concurrent_limit"])
    client = client_for(sandbox)

    rows = client.query_all("SELECT Id FROM Lead")

    assert len(rows) == 1
    assert sandbox.app.faults.stats["concurrent_limit"] == 2
    assert client.calls == 3


def test_the_daily_allowance_stops_the_call(sandbox):
    from connector.errors import BudgetExhausted

    sandbox.app.faults.configure(fail_next=["daily_limit"])
    with pytest.raises(BudgetExhausted) as err:
        client_for(sandbox).query_all("SELECT Id FROM Lead")
    assert err.value.exit_code == 4 and err.value.code == "REQUEST_LIMIT_EXCEEDED"


def test_a_sync_rides_out_the_concurrent_limit_and_stops_at_the_daily_one(org):
    org.fill(0, "ann@globex.example", lastname="Ann", company="Globex")
    org.sandbox.app.faults.configure(fail_next=["concurrent_limit"], families=["salesforce.composite"])
    report = org.sync("unique")
    assert report.status == "ok", report.error
    assert report.counts["created_leads"] == 1

    org.fill(1, "bob@globex.example", lastname="Bob", company="Globex")
    org.sandbox.app.faults.configure(fail_next=["daily_limit"], families=["salesforce.composite"])
    report = org.sync("unique")
    assert report.status == "budget" and report.exit_code == 4
    assert State.open(org.state_path).watermark(org.forms[1]) is None


# -- 3. duplicate rules: respected (parked with advice) or allowed, said on every write --------

def seed_bob_and_a_blocking_rule(org: Org) -> None:
    org.sf.set_duplicate_rule("Lead", action_on_insert="block")
    org.sf.insert("Lead", {"FirstName": "Robert", "LastName": "Smith", "Company": "Acme",
                           "Email": "bob.smith@acme.example", "Phone": "(415) 555-0100"})
    org.fill(0, "rsmith@mail.example", firstname="Robert", lastname="Smith", company="Acme",
             phone="+1 415 555 0100")


def test_a_duplicate_rule_refusal_is_parked_with_salesforce_reason_and_advice(org):
    seed_bob_and_a_blocking_rule(org)

    report = org.sync("unique")

    assert report.status == "partial" and report.counts["failed"] == 1
    assert len(org.leads()) == 1
    row = State.open(org.state_path).rows()[0]
    assert row["status"] == "failed" and row["error_code"] == "DUPLICATES_DETECTED"
    assert "Use one of these records?" in row["error"]
    groups = report.to_json()["refused"]
    assert [(g["code"], g["count"], g["category"]) for g in groups] == [
        ("DUPLICATES_DETECTED", 1, "duplicate rule")]
    assert 'duplicate_rules = "allow"' in groups[0]["advice"]
    from connector.render.run import render
    assert "duplicate rule blocked 1 record(s)" in render(report, detail=False)


def test_duplicate_rules_allow_saves_the_record(org):
    seed_bob_and_a_blocking_rule(org)

    report = org.sync("unique", salesforce={"duplicate_rules": "allow"})

    assert report.status == "ok", report.error
    assert len(org.leads()) == 2 and len(org.members()) == 1


def test_the_duplicate_rule_header_is_explicit_on_every_write():
    import responses

    base = "https://sf.example.my.salesforce.com"
    sent: list[dict[str, str]] = []

    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        sent.append(dict(request.headers))
        n = len(json.loads(request.body)["records"])
        return 200, {}, json.dumps([{"id": f"00Q5g00000AbC{i:03d}AAA", "success": True,
                                     "errors": []} for i in range(n)])

    with responses.RequestsMock() as rsps:
        rsps.add_callback("POST", f"{base}/services/data/v59.0/composite/sobjects", reply)
        rsps.add_callback("PATCH", f"{base}/services/data/v59.0/composite/sobjects", reply)
        for mode, expected in (("respect", "allowSave=false"), ("allow", "allowSave=true")):
            client = SalesforceClient(SalesforceSettings(base, access_token=Secret("00D!t"),
                                                         duplicate_rules=mode),
                                      retry=RetryPolicy.fast())
            client.create("Lead", [{"LastName": "A", "Company": "B"}])
            client.update_mixed([("Lead", {"id": "00Q5g00000AbC001AAA", "Title": "x"})])
            assert [h["Sforce-Duplicate-Rule-Header"] for h in sent[-2:]] == [expected] * 2
            assert [h["Sforce-Auto-Assign"] for h in sent[-2:]] == ["FALSE"] * 2


def test_duplicate_rules_setting_is_checked():
    from connector.config.settings import settings_from_dict
    from connector.errors import ConfigError

    base = {"salesforce": {"instance_url": "https://x.my.salesforce.com", "access_token": "t"},
            "hubspot": {"access_token": "t"}, "campaigns": [{"form_id": "f", "campaign_id": "c"}]}
    assert settings_from_dict(base, env={}).salesforce.duplicate_rules == "respect"
    with pytest.raises(ConfigError) as err:
        settings_from_dict({**base, "salesforce": {**base["salesforce"], "duplicate_rules": "ignore"}},
                           env={})
    assert str(err.value).startswith("salesforce.duplicate_rules: must be one of respect, allow")
