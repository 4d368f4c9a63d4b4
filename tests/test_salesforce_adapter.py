"""The Salesforce adapter's composite packing: call counts, order of results, error shapes.

Sandbox-level tests check what a real client sees (results, and the sandbox's per-family
counters for the calls spent); ``responses``-level tests script the replies the sandbox
cannot be made to give on demand (one subrequest failing among good ones).
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from connector.config.settings import SalesforceSettings, Secret
from connector.errors import ApiError, BudgetExhausted
from connector.adapters.salesforce.client import COLLECTION_LIMIT, COMPOSITE_HEAVY_LIMIT, SalesforceClient
from connector.adapters.salesforce.soql import LEAD_LOOKUP_FIELDS, MAX_SUBREQUEST_URL, chunk_for_query
from connector.errors import AmbiguousWrite
from connector.sandbox import Sandbox
from connector.adapters.transport import RetryPolicy

ITEM_KEYS = {"statusCode", "message", "fields"}


def client_for(sandbox: Sandbox) -> SalesforceClient:
    return SalesforceClient(SalesforceSettings(sandbox.url, access_token=Secret(sandbox.token)),
                            retry=RetryPolicy.fast())


def sf_calls(sandbox: Sandbox) -> dict[str, int]:
    """Salesforce data-API calls by family, as the sandbox counted them."""
    return {k: v for k, v in sandbox.counters.items()
            if k.startswith("salesforce.") and not k.startswith("salesforce.auth")}


@pytest.fixture
def org(sandbox: Sandbox) -> Iterator[tuple[Sandbox, SalesforceClient]]:
    yield sandbox, client_for(sandbox)


def seed_people(sandbox: Sandbox, n: int) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """n emails: every third a Lead, every third+1 a Contact, the rest unknown."""
    sf = sandbox.app.salesforce
    account = sf.insert("Account", {"Name": "Acme"})
    emails, leads, contacts = [], {}, {}
    for i in range(n):
        email = f"p{i:05d}@example.com"
        emails.append(email)
        if i % 3 == 0:
            leads[email] = sf.insert("Lead", {"LastName": f"L{i}", "Company": "Acme", "Email": email})
        elif i % 3 == 1:
            contacts[email] = sf.insert("Contact", {"LastName": f"C{i}", "Email": email,
                                                    "AccountId": account})
    sandbox.counters.clear()
    return emails, leads, contacts


# -- lookups -----------------------------------------------------------------------------

def test_lookups_for_a_thousand_people_are_one_call(org):
    sandbox, client = org
    emails, leads, contacts = seed_people(sandbox, 1000)
    lead_rows, contact_rows = client.find_people(emails)
    assert {r["Email"]: r["Id"] for r in lead_rows} == leads
    assert {r["Email"]: r["Id"] for r in contact_rows} == contacts
    assert client.calls == 1
    assert sf_calls(sandbox) == {"salesforce.composite": 1}


def test_more_people_than_five_queries_hold_take_another_call(org):
    sandbox, client = org
    emails, leads, contacts = seed_people(sandbox, 3000)
    statements = len(list(chunk_for_query("SELECT {fields} FROM Lead WHERE Email IN {values}",
                                          ("Id", "Email"), emails))) * 2
    assert statements > COMPOSITE_HEAVY_LIMIT
    lead_rows, contact_rows = client.find_people(emails)
    assert len(lead_rows) == len(leads) and len(contact_rows) == len(contacts)
    expected = -(-statements // COMPOSITE_HEAVY_LIMIT)
    assert client.calls == expected == sandbox.counters["salesforce.composite"]


def test_members_lookup_splits_ids_by_object(org):
    sandbox, client = org
    emails, leads, contacts = seed_people(sandbox, 30)
    sf = sandbox.app.salesforce
    campaign = sf.insert("Campaign", {"Name": "Webinar", "IsActive": True})
    other = sf.insert("Campaign", {"Name": "Other", "IsActive": True})
    lead_id, contact_id = next(iter(leads.values())), next(iter(contacts.values()))
    m1 = sf.insert("CampaignMember", {"CampaignId": campaign, "LeadId": lead_id, "Status": "Sent"})
    m2 = sf.insert("CampaignMember", {"CampaignId": campaign, "ContactId": contact_id})
    sf.insert("CampaignMember", {"CampaignId": other, "LeadId": lead_id})  # out of scope
    sandbox.counters.clear()
    rows = client.find_members([campaign], [*leads.values(), *contacts.values()])
    assert sorted(r["Id"] for r in rows) == sorted([m1, m2])
    assert sf_calls(sandbox) == {"salesforce.composite": 1}


def test_no_people_no_call(org):
    sandbox, client = org
    assert client.find_people([]) == ([], [])
    assert client.find_members(["701000000000001"], []) == []
    assert client.calls == 0 and sf_calls(sandbox) == {}


def test_a_failing_lookup_raises_what_the_lone_query_raises(org):
    sandbox, client = org
    emails, _, _ = seed_people(sandbox, 5)
    with pytest.raises(ApiError) as packed:
        client.find_people(emails, external_id_field="No_Such_Field__c")
    statement = next(chunk_for_query("SELECT {fields} FROM Lead WHERE Email IN {values}",
                                     (*LEAD_LOOKUP_FIELDS, "No_Such_Field__c"), emails))
    with pytest.raises(ApiError) as alone:
        client.query_all(statement)
    assert type(packed.value) is type(alone.value) is ApiError
    assert (packed.value.status, packed.value.code) == (alone.value.status, alone.value.code) \
        == (400, "INVALID_FIELD")
    assert str(packed.value) == str(alone.value)


def test_a_lookup_past_one_page_follows_the_cursor(org):
    sandbox, client = org
    sf = sandbox.app.salesforce
    emails = [f"dup{i % 3}@example.com" for i in range(2100)]
    for i, email in enumerate(emails):
        sf.insert("Lead", {"LastName": f"D{i}", "Company": "Acme", "Email": email})
    sandbox.counters.clear()
    leads, _ = client.find_people(emails)
    assert len(leads) == 2100
    assert sf_calls(sandbox) == {"salesforce.composite": 1, "salesforce.query": 1}


def test_deleted_and_merged_rows_through_query_all(org):
    sandbox, client = org
    sf = sandbox.app.salesforce
    ids = [sf.insert("Lead", {"LastName": f"M{i}", "Company": "Acme"}) for i in range(3)]
    sf.merge("Lead", ids[0], [ids[1]])
    sf.delete("Lead", ids[2])
    sandbox.counters.clear()
    statement = next(chunk_for_query("SELECT {fields} FROM Lead WHERE Id IN {values}",
                                     ("Id", "IsDeleted", "MasterRecordId"), ids))
    expected = {ids[0]: (False, None), ids[1]: (True, ids[0]), ids[2]: (True, None)}
    alone = client.query_all_rows(statement)
    assert {r["Id"]: (r["IsDeleted"], r["MasterRecordId"]) for r in alone} == expected
    [packed] = client.query_many([statement], include_deleted=True)
    assert {r["Id"]: (r["IsDeleted"], r["MasterRecordId"]) for r in packed} == expected
    assert [r["Id"] for r in client.query_many([statement])[0]] == [ids[0]]   # query/ does not
    assert sf_calls(sandbox) == {"salesforce.query": 1, "salesforce.composite": 2}


def test_lookup_is_retried_after_a_server_error(org):
    sandbox, client = org
    emails, leads, _ = seed_people(sandbox, 10)
    sandbox.app.faults.configure(families=["salesforce.composite"], fail_next=["error_503", "drop"])
    lead_rows, _ = client.find_people(emails)
    assert {r["Email"] for r in lead_rows} == set(leads)
    assert sandbox.counters["salesforce.composite"] == 3


def test_the_request_limit_stops_the_lookup(org):
    sandbox, client = org
    emails, _, _ = seed_people(sandbox, 10)
    sandbox.app.salesforce.set_api_limit(10, used=10)
    with pytest.raises(BudgetExhausted):
        client.find_people(emails)


# -- writes ------------------------------------------------------------------------------

def lead(i: int, email: str | None = None) -> dict[str, Any]:
    return {"LastName": f"New{i}", "Company": "Acme", "Email": email or f"new{i}@example.com"}


def test_a_thousand_creates_are_one_call_in_request_order(org):
    sandbox, client = org
    records = [lead(i) for i in range(1000)]
    records[3]["Email"] = records[777]["Email"] = "not an email"
    results = client.create("Lead", records)
    assert len(results) == 1000 and client.calls == 1
    assert sf_calls(sandbox) == {"salesforce.composite": 1}
    stored = {r["Id"]: r for r in sandbox.app.salesforce.records("Lead")}
    for i, (record, result) in enumerate(zip(records, results)):
        if i in (3, 777):
            assert result["success"] is False
            assert set(result["errors"][0]) == ITEM_KEYS
            assert result["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS"
        else:
            assert result["success"] is True
            assert stored[result["id"]]["LastName"] == record["LastName"]


def test_up_to_200_records_stay_one_collections_call(org):
    sandbox, client = org
    results = client.create("Lead", [lead(i) for i in range(COLLECTION_LIMIT)])
    assert all(r["success"] for r in results)
    assert sf_calls(sandbox) == {"salesforce.collections": 1}


def test_past_a_thousand_records_another_composite(org):
    sandbox, client = org
    results = client.create("Lead", [lead(i) for i in range(1001)])
    assert len(results) == 1001 and all(r["success"] for r in results)
    assert sf_calls(sandbox) == {"salesforce.composite": 2}


def test_update_and_upsert_through_composite(org):
    sandbox, client = org
    created = client.create("Lead", [lead(i) for i in range(450)])
    updates = [{"id": r["id"], "Title": f"T{i}"} for i, r in enumerate(created)]
    updates[200]["id"] = "00Q000000000000AAA"
    results = client.update("Lead", updates)
    assert [r["success"] for r in results].count(False) == 1 and not results[200]["success"]
    titles = {r["Id"]: r.get("Title") for r in sandbox.app.salesforce.records("Lead")}
    assert titles[created[449]["id"]] == "T449"
    upserts = [{**lead(i), "Leadsync_Response_Id__c": f"conv-{i}"} for i in range(450)]
    first = client.upsert("Lead", "Leadsync_Response_Id__c", upserts)
    again = client.upsert("Lead", "Leadsync_Response_Id__c", upserts)
    assert [r["id"] for r in first] == [r["id"] for r in again]
    assert all(r["created"] for r in first) and not any(r["created"] for r in again)
    assert sandbox.counters["salesforce.composite"] == 4


def test_auto_assign_header_reaches_every_subrequest(org):
    sandbox, client = org
    client.create("Lead", [lead(i) for i in range(400)])
    owners = {r.get("OwnerId") for r in sandbox.app.salesforce.records("Lead")}
    # Sforce-Auto-Assign: FALSE keeps the running user as owner (no assignment rule ran)
    assert len(owners) == 1


def test_a_lost_reply_to_a_create_composite_is_ambiguous(org):
    sandbox, client = org
    sandbox.app.faults.configure(families=["salesforce.composite"], fail_next=["apply_then_drop"])
    with pytest.raises(AmbiguousWrite):
        client.create("Lead", [lead(i) for i in range(400)])
    assert len(sandbox.app.salesforce.records("Lead")) == 400  # it did apply
    assert sandbox.counters["salesforce.composite"] == 1       # and was not sent again


def test_a_lost_reply_to_an_update_composite_is_repeated(org):
    sandbox, client = org
    created = client.create("Lead", [lead(i) for i in range(400)])
    sandbox.app.faults.configure(families=["salesforce.composite"], fail_next=["apply_then_drop"])
    results = client.update("Lead", [{"id": r["id"], "Title": "X"} for r in created])
    assert all(r["success"] for r in results)


# -- replies the sandbox cannot be made to give: scripted --------------------------------

BASE = "https://acme.my.salesforce.com/services/data/v59.0"


@pytest.fixture
def scripted() -> Iterator[tuple[responses.RequestsMock, SalesforceClient]]:
    settings = SalesforceSettings("https://acme.my.salesforce.com", access_token=Secret("00D!x"))
    with responses.RequestsMock() as rsps:
        yield rsps, SalesforceClient(settings, retry=RetryPolicy.fast())


def ok_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": f"00Q{i:015d}", "success": True, "errors": []} for i, _ in enumerate(body["records"])]


def composite_reply(statuses: list[int], error: dict[str, Any]):
    """A callback answering each collection subrequest with the given status in turn."""
    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        subs = json.loads(request.body)["compositeRequest"]
        out = []
        for sub, status in zip(subs, statuses):
            body = ok_items(sub["body"]) if status < 300 else [error]
            out.append({"body": body, "httpHeaders": {}, "httpStatusCode": status,
                        "referenceId": sub["referenceId"]})
        return 200, {"Sforce-Limit-Info": "api-usage=5/15000"}, json.dumps({"compositeResponse": out})
    return reply


def test_one_bad_subrequest_fails_only_its_own_records(scripted):
    rsps, client = scripted
    error = {"errorCode": "INVALID_FIELD", "message": "No such column 'Foo__c'"}
    rsps.add_callback(responses.POST, f"{BASE}/composite", callback=composite_reply([200, 400, 200], error))
    results = client.create("Lead", [lead(i) for i in range(600)])
    assert len(results) == 600
    assert all(r["success"] for r in results[:200] + results[400:])
    for r in results[200:400]:
        assert r == {"success": False, "errors": [{"statusCode": "INVALID_FIELD",
                                                   "message": "No such column 'Foo__c'", "fields": []}]}


def test_every_subrequest_bad_raises_as_the_lone_call_would(scripted):
    rsps, client = scripted
    error = {"errorCode": "INVALID_FIELD", "message": "No such column 'Foo__c'"}
    rsps.add_callback(responses.POST, f"{BASE}/composite", callback=composite_reply([400, 400], error))
    with pytest.raises(ApiError) as raised:
        client.create("Lead", [lead(i) for i in range(400)])
    assert raised.value.status == 400 and raised.value.code == "INVALID_FIELD"
    assert "INVALID_FIELD: No such column" in str(raised.value)


def test_a_retryable_subrequest_is_sent_again_alone(scripted):
    rsps, client = scripted
    error = {"errorCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access"}
    rsps.add_callback(responses.POST, f"{BASE}/composite", callback=composite_reply([200, 503, 200], error))
    rsps.add_callback(responses.POST, f"{BASE}/composite/sobjects",
                      callback=lambda req: (200, {}, json.dumps(ok_items(json.loads(req.body)))))
    records = [lead(i) for i in range(600)]
    results = client.create("Lead", records)
    assert all(r["success"] for r in results) and len(results) == 600
    resent = json.loads(rsps.calls[1].request.body)["records"]
    assert [r["LastName"] for r in resent] == [r["LastName"] for r in records[200:400]]
    assert client.calls == 2


def test_a_short_collection_reply_never_shifts_results(scripted):
    rsps, client = scripted

    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        subs = json.loads(request.body)["compositeRequest"]
        out = [{"body": ok_items(s["body"])[:-1] if i == 0 else ok_items(s["body"]), "httpHeaders": {},
                "httpStatusCode": 200, "referenceId": s["referenceId"]} for i, s in enumerate(subs)]
        return 200, {}, json.dumps({"compositeResponse": out})

    rsps.add_callback(responses.POST, f"{BASE}/composite", callback=reply)
    results = client.create("Lead", [lead(i) for i in range(400)])
    assert len(results) == 400 and not results[199]["success"] and results[200]["success"]


def test_a_failed_query_subrequest_raises_and_a_503_is_retried(scripted):
    rsps, client = scripted
    replies = iter([503, 400])

    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        status = next(replies)
        subs = json.loads(request.body)["compositeRequest"]
        body = [{"errorCode": "SERVER_UNAVAILABLE" if status == 503 else "MALFORMED_QUERY",
                 "message": "nope"}]
        out = [{"body": body if i == 0 else {"totalSize": 0, "done": True, "records": []},
                "httpHeaders": {}, "httpStatusCode": status if i == 0 else 200,
                "referenceId": s["referenceId"]} for i, s in enumerate(subs)]
        return 200, {}, json.dumps({"compositeResponse": out})

    rsps.add_callback(responses.POST, f"{BASE}/composite", callback=reply)
    with pytest.raises(ApiError) as raised:
        client.find_people(["a@example.com"])
    assert raised.value.code == "MALFORMED_QUERY" and client.calls == 2
    assert str(raised.value).startswith("Salesforce query failed: MALFORMED_QUERY: nope")


def test_subrequests_respect_the_caps(scripted):
    rsps, client = scripted
    seen: list[dict[str, Any]] = []

    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body)
        seen.append(body)
        out = [{"body": {"totalSize": 0, "done": True, "records": []}, "httpHeaders": {},
                "httpStatusCode": 200, "referenceId": s["referenceId"]} for s in body["compositeRequest"]]
        return 200, {}, json.dumps({"compositeResponse": out})

    rsps.add_callback(responses.POST, f"{BASE}/composite", callback=reply)
    emails = [f"o'brien.{i}+tag@sub.example-company.com" for i in range(3000)]
    client.find_people(emails)
    subs = [s for body in seen for s in body["compositeRequest"]]
    assert all(len(body["compositeRequest"]) <= COMPOSITE_HEAVY_LIMIT for body in seen)
    assert all(len(s["url"]) <= MAX_SUBREQUEST_URL for s in subs)
    assert all(re.match(r"^/services/data/v59\.0/query/\?q=", s["url"]) for s in subs)
    # every email is asked for exactly once per object, quoted by format_soql
    asked = "".join(parse_qs(urlsplit(s["url"]).query)["q"][0] for s in subs)
    assert asked.count("'o\\'brien.2999+tag@sub.example-company.com'") == 2
    assert len(seen) == -(-len(subs) // COMPOSITE_HEAVY_LIMIT)


def test_create_members_reads_an_existing_membership_as_success(tmp_path):
    from connector.config.settings import settings_from_dict
    from connector.adapters.salesforce.client import SalesforceClient
    from connector.sandbox import Sandbox

    with Sandbox() as sb:
        campaign = sb.app.salesforce.insert("Campaign", {"Name": "C"})
        other = sb.app.salesforce.insert("Campaign", {"Name": "Other"})
        lead = sb.app.salesforce.insert("Lead", {"LastName": "S", "Company": "A", "Email": "s@example.com"})
        existing = sb.app.salesforce.insert("CampaignMember", {"CampaignId": campaign, "LeadId": lead})
        settings = settings_from_dict({
            "salesforce": {"instance_url": sb.url, "access_token": sb.token},
            "hubspot": {"access_token": sb.token},
            "campaigns": [{"form_id": "f", "campaign_id": campaign}]}, env={})
        client = SalesforceClient(settings.salesforce)
        results = client.create_members([{"CampaignId": campaign, "LeadId": lead, "Status": "Responded"},
                                         {"CampaignId": other, "LeadId": lead, "Status": "Responded"}])
        assert results[0] == {"id": existing, "success": True, "errors": [], "existed": True}
        assert results[1]["success"] and results[1]["id"] != existing and not results[1].get("existed")
        assert len(sb.app.salesforce.records("CampaignMember")) == 2


def test_describes_of_several_objects_are_one_call(org):
    sandbox, client = org
    described = client.describe(["Lead", "Contact", "Lead"])
    assert list(described) == ["Lead", "Contact"]
    lead_fields = {f["name"]: f for f in described["Lead"]["fields"]}
    assert lead_fields["LastName"]["length"] == 80 and lead_fields["Email"]["type"] == "email"
    assert "AccountId" in {f["name"] for f in described["Contact"]["fields"]}
    assert sf_calls(sandbox) == {"salesforce.composite": 1}


def test_account_candidates_by_website_and_name_are_one_call(org):
    sandbox, client = org
    sf = sandbox.app.salesforce
    acme = sf.insert("Account", {"Name": "Acme GmbH", "Website": "https://www.acme.com/de"})
    lookalike = sf.insert("Account", {"Name": "Notacme", "Website": "notacme.com"})
    sf.insert("Account", {"Name": "Globex", "Website": "globex.io"})
    under = sf.insert("Account", {"Name": "O'Brien_Tools", "Website": ""})
    sandbox.counters.clear()
    rows = client.find_accounts(["acme.com"], ["O'Brien_"])
    assert {r["Id"] for r in rows} == {acme, lookalike, under}   # LIKE finds candidates only
    assert set(rows[0]) >= {"Id", "Name", "Website", "OwnerId", "CreatedDate"}
    assert sf_calls(sandbox) == {"salesforce.composite": 1}
    assert client.find_accounts([], []) == []


def test_tasks_by_response_id_are_one_call_for_a_batch(org):
    sandbox, client = org
    sf = sandbox.app.salesforce
    ext = "Leadsync_Response_Id__c"
    ids = [f"{i:08d}-0000-4000-8000-000000000000" for i in range(1000)] + ["it's-quoted"]
    wanted = {ids[3]: sf.insert("Task", {"Subject": "a", ext: ids[3]}),
              ids[999]: sf.insert("Task", {"Subject": "b", ext: ids[999]}),
              ids[-1]: sf.insert("Task", {"Subject": "c", ext: ids[-1]})}
    sf.insert("Task", {"Subject": "another response's", ext: "not-asked-for"})
    sandbox.counters.clear()
    rows = client.find_tasks(ext, ids)
    assert {r[ext]: r["Id"] for r in rows} == wanted
    assert sf_calls(sandbox) == {"salesforce.composite": 1}
    assert client.find_tasks(ext, []) == []
    with pytest.raises(ValueError):
        client.find_tasks("Ext__c FROM Lead --", ids)


def test_updates_of_several_objects_share_one_call(org):
    sandbox, client = org
    sf = sandbox.app.salesforce
    account = sf.insert("Account", {"Name": "Acme"})
    lead = sf.insert("Lead", {"LastName": "L", "Company": "Acme", "Email": "l@acme.com"})
    contact = sf.insert("Contact", {"LastName": "C", "AccountId": account})
    sandbox.counters.clear()
    results = client.update_mixed([("Lead", {"id": lead, "Title": "CTO"}),
                                   ("Contact", {"id": contact, "Phone": "+1 415 555 0100"})])
    assert [r["success"] for r in results] == [True, True]
    assert sf.get("Lead", lead)["Title"] == "CTO"
    assert sf.get("Contact", contact)["Phone"] == "+1 415 555 0100"
    assert sf_calls(sandbox) == {"salesforce.collections": 1}


@pytest.mark.parametrize("text", [
    "", "00Q000000000001AAA", "'bob.o\\'neil@acme.com'", "a b", "'ünï@example.com'", "x+y@z.com",
    "'50%'", "a&b=c", "tab\there", "~_.-@',()", "#frag", "'a\\\\b'", "emoji 🙂", "[x]", "a/b?c"])
def test_encoded_length_is_the_length_of_the_encoding(text):
    from connector.adapters.salesforce.soql import encode_soql, encoded_length
    assert encoded_length(text) == len(encode_soql(text))


def test_replies_are_parsed_into_plain_dicts(org):
    sandbox, client = org
    emails, leads, contacts = seed_people(sandbox, 4)
    lead_rows, contact_rows = client.find_people(emails)
    rows = lead_rows + contact_rows
    assert rows and all(type(row) is dict and type(row["attributes"]) is dict for row in rows)
