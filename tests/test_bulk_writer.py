"""The Bulk API 2.0 writer's results: large files read whole and streamed, jobs that stop part
way, ``sf__Error`` as Salesforce writes it, and the job ids left in the org.

Sandbox tests drive the real simple-salesforce client over loopback; the ``responses`` test
pins the wire of the result reads (URLs, headers, no paging) on recorded replies.
"""

from __future__ import annotations

import csv
import json
from typing import Any, Iterator

import pytest
import responses

from connector.adapters.salesforce.bulk import BulkWriter, csv_lines, parse_bulk_error
from connector.config.settings import SalesforceSettings, Secret
from connector.adapters.salesforce.client import SalesforceClient
from connector.sandbox import Sandbox
from connector.sandbox.bulk_api import DAILY_BATCHES
from connector.adapters.transport import RetryPolicy

EXT = "Leadsync_Response_Id__c"


def writer_for(sandbox: Sandbox, **kwargs: Any) -> BulkWriter:
    client = SalesforceClient(SalesforceSettings(sandbox.url, access_token=Secret(sandbox.token),
                                                 lead_external_id_field=EXT),
                              retry=RetryPolicy.fast())
    kwargs.setdefault("threshold", 0)
    return BulkWriter(client, poll_interval=0, sleep=kwargs.pop("sleep", lambda s: None), **kwargs)


def lead(i: int, **over: str) -> dict[str, str]:
    return {"LastName": f"L{i}", "Company": "Acme", "Email": f"p{i}@acme.example", EXT: f"c{i}",
            **over}


def codes(results: list[dict[str, Any]]) -> list[str | None]:
    return [None if r["success"] else r["errors"][0]["statusCode"] for r in results]


# -- 1. result files: not paged, read whole, streamed --------------------------------------

def test_a_20000_row_result_is_read_whole_one_request_per_file(sandbox):
    records = [lead(i, Email="not-an-email") if i % 1000 == 7 else lead(i) for i in range(20_000)]
    writer = writer_for(sandbox)
    sandbox.counters.clear()

    results = writer.upsert("Lead", EXT, records)

    assert len(results) == 20_000
    stored = {r[EXT]: r["Id"] for r in sandbox.app.salesforce.records("Lead")}
    assert len(stored) == 20_000 - 20
    for record, result in zip(records, results):      # each result on its own record
        if record["Email"] == "not-an-email":
            assert result["success"] is False and record[EXT] not in stored
            assert result["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS"
            assert result["errors"][0]["fields"] == ["Email"]
        else:
            assert result == {"id": stored[record[EXT]], "success": True, "errors": [],
                              "created": True}
    # create, upload, close, two polls (one per internal batch of 10,000), then one GET each
    # for successfulResults and failedResults: no page follows, no unprocessed read
    assert sandbox.counters["salesforce.bulk"] == 7
    assert writer.stats.records == 20_000 and writer.stats.polls == 2


def test_csv_lines_hands_rows_over_before_the_body_has_arrived():
    body = ('"sf__Id","sf__Error",Email,LastName\n'
            '"","FIELD_CUSTOM_VALIDATION_EXCEPTION:Line one\nline two, with a comma:--",'
            'a@x.example,Müller\n'
            + "".join(f'"","DUPLICATE_VALUE:dup:--",p{i}@x.example,L{i}\n' for i in range(200)))
    data = body.encode("utf-8")
    at = data.index("ü".encode()) + 1                 # cut inside the two bytes of "ü"
    pieces = [data[:at], data[at:at + 50]] + [data[i:i + 50] for i in range(at + 50, len(data), 50)]
    handed: list[int] = []

    def chunks() -> Iterator[bytes]:
        for i, piece in enumerate(pieces):
            handed.append(i)
            yield piece

    reader = csv.DictReader(csv_lines(chunks()))
    first = next(reader)
    assert first["sf__Error"] == ("FIELD_CUSTOM_VALIDATION_EXCEPTION:Line one\nline two, with a "
                                  "comma:--")
    assert first["LastName"] == "Müller"
    assert len(handed) < len(pieces) // 2             # read lazily, not the whole body first
    rest = list(reader)
    assert len(rest) == 200 and rest[-1]["Email"] == "p199@x.example"
    assert len(handed) == len(pieces)


def test_csv_lines_keeps_the_last_line_without_a_newline_and_drops_a_bom():
    lines = list(csv_lines([b"\xef\xbb\xbfa,b\r\n1,", b"2"]))
    assert lines == ["a,b\r\n", "1,2"]
    assert list(csv.DictReader(lines)) == [{"a": "1", "b": "2"}]
    assert list(csv_lines([])) == [] and list(csv_lines([b""])) == []


# -- 2. jobs that stop part way --------------------------------------------------------------

def test_a_job_failed_part_way_reports_its_unprocessed_records_as_failed(sandbox):
    bulk = sandbox.app.salesforce.bulk
    bulk.batch_rows, bulk.fail_after_batches = 2, 1   # batch 2 fails its retries
    writer = writer_for(sandbox)
    records = [lead(i) for i in range(5)]
    sandbox.counters.clear()

    results = writer.upsert("Lead", EXT, records)

    (job,) = bulk.jobs.values()
    assert job.state == "Failed" and job.processed == 2
    stored = {r[EXT]: r["Id"] for r in sandbox.app.salesforce.records("Lead")}
    assert codes(results) == [None, None, "BULK_UNPROCESSED", "BULK_UNPROCESSED",
                              "BULK_UNPROCESSED"]
    assert [r["id"] for r in results[:2]] == [stored["c0"], stored["c1"]]
    assert set(stored) == {"c0", "c1"}                # nothing of the rest was written
    message = results[2]["errors"][0]["message"]
    assert job.id in message and "ended Failed" in message and "20 retries" in message
    assert "nothing was written" in message
    # ... read from unprocessedrecords/: create, upload, close, one poll (batch 1 done, then
    # batch 2 fails the job), successes, unprocessed; no failedResults (none failed)
    assert sandbox.counters["salesforce.bulk"] == 6


def test_members_of_a_job_an_admin_aborted_part_way_fail_unprocessed(sandbox):
    sf = sandbox.app.salesforce
    campaign = sf.insert("Campaign", {"Name": "Webinar"})
    leads = [sf.insert("Lead", {"LastName": f"L{i}", "Company": "Acme"}) for i in range(5)]
    bulk = sf.bulk
    bulk.batch_rows, bulk.batches_per_poll = 2, 1     # one batch of 2 rows per poll

    def admin_aborts(_: float) -> None:               # between the writer's polls
        (job,) = bulk.jobs.values()
        bulk.abort(job.id)

    writer = writer_for(sandbox, sleep=admin_aborts)
    members = [{"CampaignId": campaign, "LeadId": lid, "Status": "Responded"} for lid in leads]
    results = writer.create_members(members)

    (job,) = bulk.jobs.values()
    assert job.state == "Aborted" and job.processed == 2
    assert codes(results) == [None, None] + ["BULK_UNPROCESSED"] * 3
    created = {m["LeadId"]: m["Id"] for m in sf.records("CampaignMember")}
    assert [r["id"] for r in results[:2]] == [created[leads[0]], created[leads[1]]]
    assert set(created) == set(leads[:2])
    assert "ended Aborted" in results[4]["errors"][0]["message"]


def test_rows_past_the_daily_batch_allocation_get_no_result_and_fail(sandbox):
    bulk = sandbox.app.salesforce.bulk
    bulk.batch_rows = 2
    bulk.batches_used = DAILY_BATCHES - 1             # room for one internal batch
    writer = writer_for(sandbox)

    results = writer.upsert("Lead", EXT, [lead(i) for i in range(5)])

    (job,) = bulk.jobs.values()
    assert job.state == "Failed" and job.unprocessed == []   # "results are not recorded"
    assert codes(results) == [None, None, "BULK_NO_RESULT", "BULK_NO_RESULT", "BULK_NO_RESULT"]
    message = results[3]["errors"][0]["message"]
    assert job.id in message and "may have been written" in message
    assert len(sandbox.app.salesforce.records("Lead")) == 2


# -- 3. sf__Error as Salesforce writes it ----------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    # Salesforce's own sample ("Handle Failed Records in Batches", the same Error format)
    ("REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
     ("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", ["LastName"])),
    # no field named: the trailer is ":--" (captured Bulk API 2.0 failedResults)
    ("DUPLICATE_VALUE:duplicate value found: Email__c duplicates value on record with id: "
     "00Q5g00000AbCdEAAV:--",
     ("DUPLICATE_VALUE", "duplicate value found: Email__c duplicates value on record with id: "
      "00Q5g00000AbCdEAAV", [])),
    ("REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:--",
     ("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", [])),
    ("DUPLICATE_VALUE:Already a campaign member.:--",
     ("DUPLICATE_VALUE", "Already a campaign member.", [])),
    # colons inside the message: the fields are after the last one
    ("INVALID_EMAIL_ADDRESS:Email: invalid email address: not-an-email:Email --",
     ("INVALID_EMAIL_ADDRESS", "Email: invalid email address: not-an-email", ["Email"])),
    ("INVALID_FIELD:Failed to deserialize field at col 3. Due to, 'x' is not a valid value for "
     "the type xsd:date:Birthdate --",
     ("INVALID_FIELD", "Failed to deserialize field at col 3. Due to, 'x' is not a valid value "
      "for the type xsd:date", ["Birthdate"])),
    ("FIELD_CUSTOM_VALIDATION_EXCEPTION:Phone must look like: (555) 555-0100:--",
     ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Phone must look like: (555) 555-0100", [])),
    # what follows the last colon is not a field list: it stays in the message
    ("FIELD_CUSTOM_VALIDATION_EXCEPTION:Call after: 5 pm, please --",
     ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Call after: 5 pm, please", [])),
    # several fields: the separator is undocumented, both are read
    ("REQUIRED_FIELD_MISSING:Required fields are missing: [LastName, Company]:LastName,Company --",
     ("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName, Company]",
      ["LastName", "Company"])),
    ("REQUIRED_FIELD_MISSING:Required fields are missing: [LastName, Company]:LastName Company --",
     ("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName, Company]",
      ["LastName", "Company"])),
    ("DUPLICATE_EXTERNAL_ID:Duplicate external id specified: c4:Leadsync_Response_Id__c --",
     ("DUPLICATE_EXTERNAL_ID", "Duplicate external id specified: c4",
      ["Leadsync_Response_Id__c"])),
    # no trailer at all
    ("INVALID_TYPE_ON_FIELD_IN_RECORD:Amount: value not of required type",
     ("INVALID_TYPE_ON_FIELD_IN_RECORD", "Amount: value not of required type", [])),
    # not a status code first: kept whole
    ("InvalidBatch : Field name not found : Nope__c",
     ("UNKNOWN_EXCEPTION", "InvalidBatch : Field name not found : Nope__c", [])),
    ("something went wrong", ("UNKNOWN_EXCEPTION", "something went wrong", [])),
    ("", ("UNKNOWN_EXCEPTION", "Salesforce rejected the record", [])),
    ("  UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record:--\n",
     ("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record", [])),
    # a bare code, as public fixtures of Bulk results show: the code is kept
    ("UNABLE_TO_LOCK_ROW",
     ("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record", [])),
    ("UNKNOWN_EXCEPTION", ("UNKNOWN_EXCEPTION", "Salesforce rejected the record", [])),
])
def test_parse_bulk_error_reads_what_salesforce_writes(text, expected):
    assert parse_bulk_error(text) == expected


def test_the_sandbox_writes_sf_error_the_way_the_parser_reads_it(sandbox):
    writer = writer_for(sandbox)
    results = writer.upsert("Lead", EXT, [lead(0, LastName=""), lead(1, Email="bad")])
    assert [r["errors"][0] for r in results] == [
        {"statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [LastName]",
         "fields": ["LastName"]},
        {"statusCode": "INVALID_EMAIL_ADDRESS", "message": "Email: invalid email address: bad",
         "fields": ["Email"]}]


# -- 4. jobs stay in the org, their ids are kept ---------------------------------------------

def test_job_ids_are_kept_and_jobs_are_never_deleted(sandbox):
    writer = writer_for(sandbox)
    writer.upsert("Lead", EXT, [lead(i) for i in range(3)])
    lead_ids = [r["Id"] for r in sandbox.app.salesforce.records("Lead")]
    campaign = sandbox.app.salesforce.insert("Campaign", {"Name": "C"})
    writer.create_members([{"CampaignId": campaign, "LeadId": lid, "Status": "Responded"}
                           for lid in lead_ids])
    writer.upsert("Lead", EXT, [lead(9)] * 0)         # nothing to write opens no job

    jobs = sandbox.app.salesforce.bulk.jobs
    assert writer.stats.job_ids == list(jobs) and len(jobs) == 2
    assert {j.state for j in jobs.values()} == {"JobComplete"}
    assert writer.stats.jobs == len(writer.stats.job_ids)


# -- the wire of the result reads, on recorded replies ---------------------------------------

BASE = "https://sf.example.my.salesforce.com/services/data/v59.0/jobs/ingest"
JOB = "7505g00000AbCdEAAV"


@responses.activate
def test_result_reads_are_single_unpaged_gets_of_the_documented_resources():
    client = SalesforceClient(SalesforceSettings("https://sf.example.my.salesforce.com",
                                                 access_token=Secret("00D!tok"),
                                                 lead_external_id_field=EXT),
                              retry=RetryPolicy.fast())
    info = {"id": JOB, "state": "Failed", "object": "Lead", "operation": "upsert",
            "numberRecordsProcessed": 2, "numberRecordsFailed": 1,
            "errorMessage": "InternalServerError : batch failed after retries"}
    responses.post(BASE, json={"id": JOB, "state": "Open"})
    responses.put(f"{BASE}/{JOB}/batches", status=201)
    responses.patch(f"{BASE}/{JOB}", json={"id": JOB, "state": "UploadComplete"})
    responses.get(f"{BASE}/{JOB}", json=info)
    csv_type = {"content_type": "text/csv"}
    responses.get(f"{BASE}/{JOB}/successfulResults",
                  body=f'"sf__Id","sf__Created",Company,Email,{EXT},LastName\n'
                       '"00Q5g00000AbCdEAAV","true",Acme,p0@acme.example,c0,L0\n', **csv_type)
    responses.get(f"{BASE}/{JOB}/failedResults",
                  body=f'"sf__Id","sf__Error",Company,Email,{EXT},LastName\n'
                       '"","FIELD_CUSTOM_VALIDATION_EXCEPTION:No leads from: acme, please\n'
                       'call first:--",Acme,p1@acme.example,c1,L1\n', **csv_type)
    responses.get(f"{BASE}/{JOB}/unprocessedrecords",
                  body=f"Company,Email,{EXT},LastName\nAcme,p2@acme.example,c2,L2\n", **csv_type)

    writer = BulkWriter(client, threshold=0, poll_interval=0, sleep=lambda s: None)
    results = writer.upsert("Lead", EXT, [lead(i) for i in range(3)])

    assert results[0] == {"id": "00Q5g00000AbCdEAAV", "success": True, "errors": [],
                          "created": True}
    assert results[1]["errors"] == [{"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                                     "message": "No leads from: acme, please\ncall first",
                                     "fields": []}]
    assert codes(results)[2] == "BULK_UNPROCESSED"
    reads = [c.request for c in responses.calls if c.request.method == "GET"
             and not c.request.url.endswith(JOB)]
    assert [r.url for r in reads] == [f"{BASE}/{JOB}/successfulResults",
                                      f"{BASE}/{JOB}/failedResults",
                                      f"{BASE}/{JOB}/unprocessedrecords"]   # no locator, no paging
    assert {r.headers["Accept"] for r in reads} == {"text/csv; charset=UTF-8"}
    assert {r.headers["Authorization"] for r in reads} == {"Bearer 00D!tok"}
    created = json.loads(responses.calls[0].request.body)
    assert created == {"operation": "upsert", "columnDelimiter": "COMMA", "lineEnding": "LF",
                       "object": "Lead", "contentType": "CSV", "externalIdFieldName": EXT}
    assert writer.stats.job_ids == [JOB]
    assert not any(c.request.method == "DELETE" for c in responses.calls)


@responses.activate
def test_rows_a_job_could_not_lock_are_sent_again_and_not_parked():
    """A bare ``UNABLE_TO_LOCK_ROW`` in ``sf__Error`` (recorded reply): the row was not
    written because another save held it; it is sent again through collections."""
    instance = "https://sf.example.my.salesforce.com"
    client = SalesforceClient(SalesforceSettings(instance, access_token=Secret("00D!tok"),
                                                 lead_external_id_field=EXT),
                              retry=RetryPolicy.fast())
    info = {"id": JOB, "state": "JobComplete", "object": "Lead", "operation": "upsert",
            "numberRecordsProcessed": 3, "numberRecordsFailed": 2}
    responses.post(BASE, json={"id": JOB, "state": "Open"})
    responses.put(f"{BASE}/{JOB}/batches", status=201)
    responses.patch(f"{BASE}/{JOB}", json={"id": JOB, "state": "UploadComplete"})
    responses.get(f"{BASE}/{JOB}", json=info)
    csv_type = {"content_type": "text/csv"}
    responses.get(f"{BASE}/{JOB}/successfulResults",
                  body=f'"sf__Id","sf__Created",Company,Email,{EXT},LastName\n'
                       '"00Q5g00000AbCdEAAV","true",Acme,p0@acme.example,c0,L0\n', **csv_type)
    responses.get(f"{BASE}/{JOB}/failedResults",
                  body=f'"sf__Id","sf__Error",Company,Email,{EXT},LastName\n'
                       '"","UNABLE_TO_LOCK_ROW",Acme,p1@acme.example,c1,L1\n'
                       '"","INVALID_EMAIL_ADDRESS:Email: invalid email address: x:Email --",'
                       f'Acme,x,c2,L2\n', **csv_type)
    again = responses.patch(f"{instance}/services/data/v59.0/composite/sobjects/Lead/{EXT}",
                            json=[{"id": "00Q5g00000AbCdFAAV", "success": True, "errors": [],
                                   "created": True}])

    writer = BulkWriter(client, threshold=0, poll_interval=0, sleep=lambda s: None)
    results = writer.upsert("Lead", EXT, [lead(0), lead(1), lead(2, Email="x")])

    assert results[1] == {"id": "00Q5g00000AbCdFAAV", "success": True, "errors": [],
                          "created": True}
    assert codes(results) == [None, None, "INVALID_EMAIL_ADDRESS"]
    assert again.call_count == 1
    sent = json.loads(again.calls[0].request.body)["records"]
    assert [r[EXT] for r in sent] == ["c1"]           # only the locked row, not the bad one
