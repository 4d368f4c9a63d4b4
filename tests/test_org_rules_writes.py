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
