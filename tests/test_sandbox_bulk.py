"""The sandbox's Bulk API 2.0 ingest jobs, driven by simple-salesforce's own bulk2 client."""

from __future__ import annotations

import csv
import io

import pytest
from simple_salesforce.bulk2 import Operation
from simple_salesforce.exceptions import (SalesforceGeneralError, SalesforceMalformedRequest,
                                          SalesforceOperationError, SalesforceResourceNotFound)

EXT = "Leadsync_Response_Id__c"


def jobs(sf, sobject="Lead"):
    """simple-salesforce's ingest client for one object: the requests of api-notes A2."""
    return getattr(sf.bulk2, sobject)._client


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def lead(i: int, **over: str) -> dict[str, str]:
    return {"LastName": f"L{i}", "Company": "Acme", "Email": f"p{i}@acme.example", EXT: f"c{i}", **over}


CSV = "Company,Email,LastName," + EXT + "\n" + "".join(
    f"Acme,p{i}@acme.example,L{i},c{i}\n" for i in range(5))


def test_job_moves_through_its_states_and_results_carry_the_uploaded_columns(sandbox, sf):
    client = jobs(sf)
    job = client.create_job(Operation.upsert, external_id_field=EXT)
    assert job["state"] == "Open" and job["id"].startswith("750") and job["object"] == "Lead"
    assert job["externalIdFieldName"] == EXT and job["contentUrl"].endswith("/batches")
    client.upload_job_data(job["id"], CSV)              # raises unless the reply is 201
    assert client.get_job(job["id"], False)["state"] == "Open"
    assert client.close_job(job["id"])["state"] == "UploadComplete"
    assert sandbox.app.salesforce.records("Lead") == []  # nothing written before processing

    first = client.get_job(job["id"], False)
    assert first["state"] == "InProgress" and first["numberRecordsProcessed"] == 5
    done = client.get_job(job["id"], False)
    assert done["state"] == "JobComplete" and done["numberRecordsFailed"] == 0
    assert done["jobType"] == "V2Ingest"

    text = client.get_ingest_results(job["id"], "successfulResults")
    assert text.splitlines()[0] == '"sf__Id","sf__Created",Company,Email,LastName,' + EXT
    results = rows(text)
    assert sorted(r[EXT] for r in results) == [f"c{i}" for i in range(5)]
    assert all(r["sf__Created"] == "true" and r["sf__Id"].startswith("00Q") for r in results)
    stored = {r[EXT]: r["Id"] for r in sandbox.app.salesforce.records("Lead")}
    assert {r[EXT]: r["sf__Id"] for r in results} == stored
    assert rows(client.get_ingest_results(job["id"], "failedResults")) == []


def test_upsert_again_updates_and_never_doubles(sandbox, sf):
    first = sf.bulk2.Lead.upsert(records=[lead(i) for i in range(3)], external_id_field=EXT, wait=0)
    again = sf.bulk2.Lead.upsert(records=[lead(i, Company="Acme 2") for i in range(3)],
                                 external_id_field=EXT, wait=0)
    assert first[0]["numberRecordsProcessed"] == again[0]["numberRecordsProcessed"] == 3
    results = rows(sf.bulk2.Lead.get_successful_records(again[0]["job_id"]))
    assert {r["sf__Created"] for r in results} == {"false"}
    leads = sandbox.app.salesforce.records("Lead")
    assert len(leads) == 3 and {r["Company"] for r in leads} == {"Acme 2"}


def test_rows_fail_alone_with_the_codes_collections_give(sandbox, sf):
    bad = [lead(0), lead(1, LastName=""), lead(2, Email="not-an-email"), lead(3, FirstName="x" * 41),
           lead(4, **{EXT: "dup"}), lead(5, **{EXT: "dup"})]
    collections = sf.restful(f"composite/sobjects/Lead/{EXT}", method="PATCH", json={
        "allOrNone": False, "records": [{"attributes": {"type": "Lead"}, **r} for r in bad]})
    rest_codes = [None if r["success"] else r["errors"][0]["statusCode"] for r in collections]
    sandbox.app.reset()
    campaign = sandbox.app.salesforce.insert("Campaign", {"Name": "C"})

    result = sf.bulk2.Lead.upsert(records=bad, external_id_field=EXT, wait=0)[0]
    assert result["numberRecordsProcessed"] == 6 and result["numberRecordsFailed"] == 5
    failed = {r[EXT] + r["LastName"]: r["sf__Error"] for r in rows(
        sf.bulk2.Lead.get_failed_records(result["job_id"]))}
    bulk_codes = [None if r[EXT] + r["LastName"] not in failed else
                  failed[r[EXT] + r["LastName"]].split(":")[0] for r in bad]
    assert bulk_codes == rest_codes == [None, "REQUIRED_FIELD_MISSING", "INVALID_EMAIL_ADDRESS",
                                        "STRING_TOO_LONG", "DUPLICATE_EXTERNAL_ID",
                                        "DUPLICATE_EXTERNAL_ID"]
    assert failed["c1"] == "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --"
    assert len(sandbox.app.salesforce.records("Lead")) == 1

    # one member per (campaign, record), as collections enforce it
    lead_id = sandbox.app.salesforce.records("Lead")[0]["Id"]
    members = [{"CampaignId": campaign, "LeadId": lead_id, "Status": "Responded"}] * 2
    result = sf.bulk2.CampaignMember.insert(records=members, wait=0)[0]
    assert result["numberRecordsFailed"] == 1
    (dup,) = rows(sf.bulk2.CampaignMember.get_failed_records(result["job_id"]))
    assert dup["sf__Error"].startswith("DUPLICATE_VALUE:") and dup["sf__Id"] == ""


def test_abort_leaves_the_rows_unprocessed_and_a_finished_job_refuses_it(sandbox, sf):
    client = jobs(sf)
    job = client.create_job(Operation.insert)
    client.upload_job_data(job["id"], CSV)
    assert client.abort_job(job["id"], False)["state"] == "Aborted"
    assert client.get_job(job["id"], False)["state"] == "Aborted"
    assert sandbox.app.salesforce.records("Lead") == []
    unprocessed = client.get_ingest_results(job["id"], "unprocessedRecords")  # docs: ...records
    # (in no particular order: "Get Job Unprocessed Record Results" does not keep upload order)
    assert sorted(r["LastName"] for r in rows(unprocessed)) == [f"L{i}" for i in range(5)]
    with pytest.raises(SalesforceMalformedRequest) as refused:
        client.abort_job(job["id"], False)
    assert refused.value.content[0]["errorCode"] == "INVALIDJOBSTATE"

    reply = sf.session.delete(f"{sf.bulk2_url}ingest/{job['id']}", headers=sf.headers)
    assert reply.status_code == 204 and reply.content == b""
    with pytest.raises(SalesforceResourceNotFound):
        client.get_job(job["id"], False)


def test_a_job_with_an_unknown_column_fails_whole(sandbox, sf):
    with pytest.raises(SalesforceOperationError, match="Field name not found : Nope__c"):
        sf.bulk2.Lead.insert(records=[{**lead(0), "Nope__c": "x"}], wait=0)
    assert sandbox.app.salesforce.records("Lead") == []


def test_every_request_is_an_api_call_and_each_job_a_batch(sandbox, sf):
    sandbox.counters.clear()
    before = sf.limits()["DailyBulkApiBatches"]["Remaining"]
    result = sf.bulk2.Lead.insert(records=[lead(i) for i in range(3)], wait=0)[0]
    # create, upload, close, two polls (InProgress, JobComplete), one more read for the counts
    assert sandbox.counters["salesforce.bulk"] == 6
    assert sandbox.app.salesforce.api_usage[0] == 1 + 6
    assert sf.limits()["DailyBulkApiBatches"]["Remaining"] == before - 1
    assert result["numberRecordsProcessed"] == 3

    sandbox.app.salesforce.set_api_limit(100, used=100)
    with pytest.raises(Exception) as exc:
        jobs(sf).create_job(Operation.insert)
    assert exc.value.status == 403 and exc.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_injected_faults_reach_the_bulk_routes(sandbox, sf):
    sandbox.app.faults.configure(families=["salesforce.bulk"], fail_next=["error_503"])
    with pytest.raises(SalesforceGeneralError) as exc:
        jobs(sf).create_job(Operation.insert)
    assert exc.value.status == 503
    assert jobs(sf).create_job(Operation.insert)["state"] == "Open"


# -- jobs that stop part way, and result files that are never paged -------------------------

def started(sf, n=5):
    """An upsert job of n Leads, uploaded and closed (nothing processed before a poll)."""
    client = jobs(sf)
    job = client.create_job(Operation.upsert, external_id_field=EXT)
    client.upload_job_data(job["id"], "Company,Email,LastName," + EXT + "\n" + "".join(
        f"Acme,p{i}@acme.example,L{i},c{i}\n" for i in range(n)))
    client.close_job(job["id"])
    return client, job["id"]


def test_an_abort_while_batches_remain_lands_part_way(sandbox, sf):
    bulk = sandbox.app.salesforce.bulk
    bulk.batch_rows, bulk.batches_per_poll = 2, 1
    client, job_id = started(sf)
    first = client.get_job(job_id, False)
    assert first["state"] == "InProgress" and first["numberRecordsProcessed"] == 2
    assert client.abort_job(job_id, False)["state"] == "Aborted"

    done = client.get_job(job_id, False)
    assert done["state"] == "Aborted" and done["numberRecordsProcessed"] == 2
    assert sorted(r[EXT] for r in rows(client.get_ingest_results(job_id, "successfulResults"))) == [
        "c0", "c1"]
    assert sorted(r[EXT] for r in rows(client.get_ingest_results(job_id, "unprocessedrecords"))) == [
        "c2", "c3", "c4"]
    assert sorted(r[EXT] for r in sandbox.app.salesforce.records("Lead")) == ["c0", "c1"]


def test_a_batch_that_fails_its_retries_fails_the_job_and_leaves_the_rest_unprocessed(sandbox, sf):
    bulk = sandbox.app.salesforce.bulk
    bulk.batch_rows, bulk.batches_per_poll, bulk.fail_after_batches = 2, 1, 2
    client, job_id = started(sf)
    states = [client.get_job(job_id, False) for _ in range(3)]
    assert [s["state"] for s in states] == ["InProgress", "InProgress", "Failed"]
    failed = states[-1]
    assert failed["numberRecordsProcessed"] == 4 and failed["numberRecordsFailed"] == 0
    assert "after 20 retries" in failed["errorMessage"]
    assert [r[EXT] for r in rows(client.get_ingest_results(job_id, "unprocessedrecords"))] == ["c4"]
    assert len(sandbox.app.salesforce.records("Lead")) == 4     # processed rows are not rolled back


def test_past_the_daily_batch_allocation_the_rest_is_neither_processed_nor_recorded(sandbox, sf):
    from connector.sandbox.bulk_api import DAILY_BATCHES
    bulk = sandbox.app.salesforce.bulk
    bulk.batch_rows, bulk.batches_used = 2, DAILY_BATCHES - 1
    client, job_id = started(sf)
    client.get_job(job_id, False)
    failed = client.get_job(job_id, False)
    assert failed["state"] == "Failed" and failed["numberRecordsProcessed"] == 2
    recorded = [r[EXT] for name in ("successfulResults", "failedResults", "unprocessedrecords")
                for r in rows(client.get_ingest_results(job_id, name))]
    assert sorted(recorded) == ["c0", "c1"]                   # c2..c4 appear in no result file


def test_result_files_are_whole_whatever_paging_parameters_say(sandbox, sf):
    """Ingest results take no parameters (unlike query results' locator and maxRecords)."""
    client, job_id = started(sf, n=30)
    while client.get_job(job_id, False)["state"] != "JobComplete":
        pass
    url = f"{sf.bulk2_url}ingest/{job_id}/successfulResults/"
    reply = sf.session.get(url, params={"maxRecords": 10, "locator": "MTA="},
                           headers={**sf.headers, "Accept": "text/csv"})
    assert reply.status_code == 200 and "Sforce-Locator" not in reply.headers
    assert len(rows(reply.text)) == 30
