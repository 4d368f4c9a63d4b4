"""Request-shape limits: collection chunks, composite's heavy subrequests, query page sizes.

Each test drives the sandbox through simple-salesforce, as the connector does, and pins the
rule named in docs/sandbox-org-rules.md (sections 1 and 7).
"""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce import Salesforce, SalesforceMalformedRequest

from connector.sandbox import Sandbox
from connector.sandbox.sf_limits import CHUNK_MESSAGE, count_chunks, page_end

V = "/services/data/v59.0"


def _lead(i: int) -> dict[str, Any]:
    return {"attributes": {"type": "Lead"}, "LastName": f"L{i}", "Company": "Acme"}


def _account(i: int) -> dict[str, Any]:
    return {"attributes": {"type": "Account"}, "Name": f"A{i}"}


# -- 1. mixed-type sObject Collections ------------------------------------------------------

def test_chunks_are_counted_each_time_the_type_changes() -> None:
    a, c = _account(0), {"attributes": {"type": "Contact"}, "LastName": "x"}
    assert count_chunks([a, a, c, a]) == 3          # the REST guide's own example
    assert count_chunks([a] * 50 + [c] * 50) == 2
    assert count_chunks([]) == 0
    assert count_chunks([a, {"attributes": {"type": "account"}}]) == 1   # type names ignore case


def test_eleven_chunks_are_refused_whole_and_nothing_is_saved(sf: Salesforce, sandbox: Sandbox) -> None:
    alternating = [(_lead if i % 2 == 0 else _account)(i) for i in range(11)]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.restful("composite/sobjects", method="POST", json={"records": alternating})
    assert err.value.status == 400
    assert err.value.content == [{"message": CHUNK_MESSAGE, "errorCode": "LIMIT_EXCEEDED"}]
    assert sandbox.app.salesforce.records("Lead") == []
    assert sandbox.app.salesforce.records("Account") == []


def test_ten_chunks_are_accepted_and_grouping_by_type_fixes_eleven(sf: Salesforce, sandbox: Sandbox) -> None:
    ten = [(_lead if i % 2 == 0 else _account)(i) for i in range(10)]
    res = sf.restful("composite/sobjects", method="POST", json={"records": ten})
    assert [r["success"] for r in res] == [True] * 10
    eleven = [(_lead if i % 2 == 0 else _account)(i) for i in range(100, 111)]
    grouped = sorted(eleven, key=lambda r: r["attributes"]["type"])   # two chunks
    res = sf.restful("composite/sobjects", method="POST", json={"records": grouped})
    assert all(r["success"] for r in res) and len(res) == 11
    assert len(sandbox.app.salesforce.records("Lead")) == 5 + 6


def test_update_collections_obey_the_chunk_rule_too(sf: Salesforce, sandbox: Sandbox) -> None:
    sfa = sandbox.app.salesforce
    leads = [sfa.insert("Lead", {"LastName": f"L{i}", "Company": "x"}) for i in range(6)]
    accounts = [sfa.insert("Account", {"Name": f"A{i}"}) for i in range(6)]
    records = []
    for lid, aid in zip(leads, accounts):
        records += [{"attributes": {"type": "Lead"}, "id": lid, "Title": "t"},
                    {"attributes": {"type": "Account"}, "id": aid, "Phone": "1"}]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.restful("composite/sobjects", method="PATCH", json={"records": records})
    assert err.value.content[0]["message"] == CHUNK_MESSAGE
    assert all(sfa.get("Lead", i)["Title"] is None for i in leads)


def test_upsert_collections_name_one_type_so_chunks_do_not_apply(sf: Salesforce) -> None:
    records = [{"attributes": {"type": "Lead"}, "LastName": f"L{i}", "Company": "x",
                "Leadsync_Response_Id__c": f"r{i}"} for i in range(12)]
    res = sf.restful("composite/sobjects/Lead/Leadsync_Response_Id__c", method="PATCH",
                     json={"records": records})
    assert all(r["success"] and r["created"] for r in res)


# -- 7. composite limits ----------------------------------------------------------------------

def _query_sub(i: int) -> dict[str, Any]:
    return {"method": "GET", "url": f"{V}/query/?q=SELECT+Id+FROM+Lead", "referenceId": f"q{i}"}


def test_composite_allows_five_query_or_collections_subrequests(sf: Salesforce) -> None:
    subs = [_query_sub(i) for i in range(4)] + [
        {"method": "POST", "url": f"{V}/composite/sobjects", "referenceId": "coll",
         "body": {"records": [_lead(1)]}},
        {"method": "GET", "url": f"{V}/limits/", "referenceId": "lim"}]
    res = sf.restful("composite", method="POST", json={"compositeRequest": subs})
    assert [r["httpStatusCode"] for r in res["compositeResponse"]] == [200] * 6


def test_composite_refuses_a_sixth_query_or_collections_subrequest(sf: Salesforce, sandbox: Sandbox) -> None:
    subs = [{"method": "POST", "url": f"{V}/sobjects/Lead", "referenceId": "lead",
             "body": {"LastName": "x", "Company": "y"}}]
    subs += [_query_sub(i) for i in range(3)]
    subs += [{"method": "PATCH", "url": f"{V}/composite/sobjects", "referenceId": f"c{i}",
              "body": {"records": []}} for i in range(2)]
    subs.append({"method": "GET", "url": f"{V}/queryAll/?q=SELECT+Id+FROM+Lead", "referenceId": "qa"})
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.restful("composite", method="POST", json={"compositeRequest": subs})
    assert err.value.content[0]["errorCode"] == "LIMIT_EXCEEDED"
    assert "at most 5" in err.value.content[0]["message"]
    assert sandbox.app.salesforce.records("Lead") == []   # refused before any subrequest ran


# -- 7. query page size ------------------------------------------------------------------------

def test_page_end_counts_children_and_bytes() -> None:
    rows = [{"Id": str(i), "Kids": {"totalSize": 3, "done": True, "records": [{}, {}, {}]}}
            for i in range(10)]
    assert page_end(rows, 0, 8) == 2           # each row weighs 1 + 3 children
    wide = [{"Id": str(i), "Description": "x" * 1000} for i in range(10)]
    assert page_end(wide, 0, 2000, byte_budget=3500) == 3
    assert page_end(wide, 9, 2000, byte_budget=10) == 10   # always at least one row


def test_wide_rows_give_short_pages_and_paging_still_reaches_every_row(sf: Salesforce, sandbox: Sandbox) -> None:
    sfa = sandbox.app.salesforce
    for i in range(450):
        sfa.insert("Lead", {"LastName": f"L{i:03d}", "Company": "x", "Description": "d" * 5000})
    sfa.query_page_bytes = 500_000       # about 100 such rows a page
    try:
        first = sf.query("SELECT Id, LastName, Description FROM Lead ORDER BY LastName")
        assert first["totalSize"] == 450 and first["done"] is False
        assert 50 <= len(first["records"]) < 200
        assert first["nextRecordsUrl"].startswith(f"{V}/query/01g")
        everything = sf.query_all("SELECT Id, LastName, Description FROM Lead ORDER BY LastName")
        names = [r["LastName"] for r in everything["records"]]
        assert names == [f"L{i:03d}" for i in range(450)]
        narrow = sf.query("SELECT Id FROM Lead")
        assert len(narrow["records"]) == 450 and narrow["done"] is True   # narrow rows: one page
    finally:
        sfa.query_page_bytes = 4_000_000


def test_two_custom_long_text_fields_cap_the_page_at_200(sandbox: Sandbox, sf: Salesforce) -> None:
    sandbox.app.load({"salesforce": {"schema": {"Lead": {
        "Notes__c": {"type": "textarea", "length": 32768},
        "History__c": {"type": "textarea", "length": 32768}}}}})
    sfa = sandbox.app.salesforce
    for i in range(250):
        sfa.insert("Lead", {"LastName": f"L{i}", "Company": "x", "Notes__c": "n"})
    both = sf.query("SELECT Id, Notes__c, History__c FROM Lead")
    assert len(both["records"]) == 200 and both["done"] is False
    more = sf.query_more(both["nextRecordsUrl"], identifier_is_url=True)
    assert len(more["records"]) == 50 and more["done"] is True
    one = sf.query("SELECT Id, Notes__c FROM Lead")
    assert len(one["records"]) == 250
