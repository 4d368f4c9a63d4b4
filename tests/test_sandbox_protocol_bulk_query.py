"""Bulk API 2.0 query jobs: simple-salesforce's bulk2 query, and the wire step by step."""

from __future__ import annotations

import csv
import io

import pytest
import requests
from simple_salesforce import Salesforce

from connector.adapters.transport import session_for


@pytest.fixture
def sf_client(sandbox) -> Salesforce:
    return Salesforce(instance_url=sandbox.url, session_id=sandbox.token,
                      session=session_for(sandbox.url), version="59.0")


def _seed(sandbox, n: int) -> list[str]:
    return [sandbox.app.salesforce.insert("Lead", {
        "LastName": f"Lead {i:03d}", "Company": "Acme, Inc." if i % 2 else 'The "Q" Co',
        "Email": f"lead{i:03d}@acme.example" if i % 3 else None}) for i in range(n)]


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_simple_salesforce_bulk2_query_pages_by_max_records(sandbox, sf_client):
    ids = _seed(sandbox, 25)
    pages = list(sf_client.bulk2.Lead.query(
        "SELECT Id, LastName, Company, Email, IsConverted FROM Lead WHERE LastName LIKE 'Lead%'",
        max_records=10, wait=0))
    assert len(pages) == 3
    rows = [r for page in pages for r in _rows(page)]
    assert [r["Id"] for r in rows] == ids
    assert rows[1]["Company"] == "Acme, Inc." and rows[0]["Company"] == 'The "Q" Co'
    assert rows[0]["Email"] == "" and rows[1]["Email"] == "lead001@acme.example"
    assert {r["IsConverted"] for r in rows} == {"false"}
    assert pages[0].splitlines()[0] == '"Id","LastName","Company","Email","IsConverted"'


def test_query_job_wire_states_locators_and_headers(sandbox):
    _seed(sandbox, 5)
    base = f"{sandbox.url}/services/data/v59.0/jobs/query"
    h = {"Authorization": f"Bearer {sandbox.token}"}
    created = requests.post(base, headers=h, json={
        "operation": "query", "query": "SELECT Id, LastName FROM Lead ORDER BY LastName DESC"})
    assert created.status_code == 200
    job = created.json()
    assert job["state"] == "UploadComplete" and job["object"] == "Lead"
    assert job["operation"] == "query" and job["contentType"] == "CSV"
    assert job["id"].startswith("750") and job["apiVersion"] == 59.0
    early = requests.get(f"{base}/{job['id']}/results", headers=h)
    assert early.status_code == 412 and early.json()[0]["errorCode"] == "JOB_NOT_COMPLETE"
    assert "Current status: UPLOAD_COMPLETE" in early.json()[0]["message"]
    first = requests.get(f"{base}/{job['id']}", headers=h).json()
    assert first["state"] == "InProgress" and first["jobType"] == "V2Query"
    sandbox.app.salesforce.insert("Lead", {"LastName": "Zed Late", "Company": "Acme"})
    done = requests.get(f"{base}/{job['id']}", headers=h).json()
    assert done["state"] == "JobComplete" and done["numberRecordsProcessed"] == 5  # a snapshot
    page1 = requests.get(f"{base}/{job['id']}/results", headers=h, params={"maxRecords": 2})
    assert page1.status_code == 200 and page1.headers["Content-Type"].startswith("text/csv")
    assert page1.headers["Sforce-NumberOfRecords"] == "2"
    locator = page1.headers["Sforce-Locator"]
    assert locator not in ("", "null") and not locator.isdigit()
    page2 = requests.get(f"{base}/{job['id']}/results", headers=h,
                         params={"maxRecords": 10, "locator": locator})
    assert page2.headers["Sforce-NumberOfRecords"] == "3" and page2.headers["Sforce-Locator"] == "null"
    names = [r["LastName"] for r in _rows(page1.text) + _rows(page2.text)]
    assert names == sorted(names, reverse=True) and len(names) == 5
    again = requests.get(f"{base}/{job['id']}/results", headers=h,
                         params={"maxRecords": 10, "locator": locator})
    assert again.text == page2.text                  # a locator can be read again
    other_version = requests.get(f"{sandbox.url}/services/data/v60.0/jobs/query/{job['id']}/results",
                                 headers=h)
    assert other_version.status_code == 409
    listed = requests.get(base, headers=h).json()
    assert [j["id"] for j in listed["records"]] == [job["id"]] and listed["done"] is True
    assert requests.delete(f"{base}/{job['id']}", headers=h).status_code == 204
    assert requests.get(f"{base}/{job['id']}", headers=h).status_code == 404
    limits = requests.get(f"{sandbox.url}/services/data/v59.0/limits/", headers=h).json()
    assert limits["DailyBulkV2QueryJobs"] == {"Max": 10000, "Remaining": 9999}


def test_query_all_job_includes_deleted_rows(sandbox):
    ids = _seed(sandbox, 3)
    sandbox.app.salesforce.delete("Lead", ids[0])
    base = f"{sandbox.url}/services/data/v59.0/jobs/query"
    h = {"Authorization": f"Bearer {sandbox.token}"}
    results = {}
    for op in ("query", "queryAll"):
        job = requests.post(base, headers=h, json={"operation": op,
                                                   "query": "SELECT Id, IsDeleted FROM Lead"}).json()
        sandbox.app.salesforce.bulk_query.polls_to_complete = 1
        assert requests.get(f"{base}/{job['id']}", headers=h).json()["state"] == "JobComplete"
        results[op] = _rows(requests.get(f"{base}/{job['id']}/results", headers=h).text)
    assert len(results["query"]) == 2
    assert {r["Id"]: r["IsDeleted"] for r in results["queryAll"]}[ids[0]] == "true"


def test_query_job_refusals_abort_and_delete_rules(sandbox):
    base = f"{sandbox.url}/services/data/v59.0/jobs/query"
    h = {"Authorization": f"Bearer {sandbox.token}"}

    def create(**body):
        return requests.post(base, headers=h, json=body)

    bad_field = create(operation="query", query="SELECT Nope FROM Lead")
    assert bad_field.status_code == 400 and bad_field.json()[0]["errorCode"] == "INVALID_FIELD"
    bad_type = create(operation="query", query="SELECT Id FROM Nope")
    assert bad_type.status_code == 400 and bad_type.json()[0]["errorCode"] == "INVALID_TYPE"
    assert create(operation="query", query="SELECT COUNT() FROM Lead").status_code == 400
    assert create(operation="query", query="SELECT Id FROM Lead LIMIT 5 OFFSET 2").status_code == 400
    assert create(operation="insert", query="SELECT Id FROM Lead").status_code == 400
    assert create(operation="query").status_code == 400
    job = create(operation="query", query="SELECT Id FROM Lead").json()
    in_flight = requests.delete(f"{base}/{job['id']}", headers=h)
    assert in_flight.status_code == 400 and in_flight.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    aborted = requests.patch(f"{base}/{job['id']}", headers=h, json={"state": "Aborted"})
    assert aborted.status_code == 200 and aborted.json()["state"] == "Aborted"
    assert requests.get(f"{base}/{job['id']}", headers=h).json()["state"] == "Aborted"
    results = requests.get(f"{base}/{job['id']}/results", headers=h)
    assert results.status_code == 412 and "ABORTED" in results.json()[0]["message"]
    twice = requests.patch(f"{base}/{job['id']}", headers=h, json={"state": "Aborted"})
    assert twice.status_code == 400
    assert requests.delete(f"{base}/{job['id']}", headers=h).status_code == 204
    assert sandbox.counters["salesforce.bulk"] >= 10          # each request one metered call


def test_query_job_over_organization_and_crlf(sandbox):
    base = f"{sandbox.url}/services/data/v59.0/jobs/query"
    h = {"Authorization": f"Bearer {sandbox.token}"}
    sandbox.app.salesforce.bulk_query.polls_to_complete = 1
    job = requests.post(base, headers=h, json={
        "operation": "query", "query": "SELECT Id, IsSandbox FROM Organization",
        "lineEnding": "CRLF", "columnDelimiter": "PIPE"}).json()
    assert job["lineEnding"] == "CRLF" and job["columnDelimiter"] == "PIPE"
    requests.get(f"{base}/{job['id']}", headers=h)
    text = requests.get(f"{base}/{job['id']}/results", headers=h).text
    lines = text.split("\r\n")
    assert lines[0] == '"Id"|"IsSandbox"' and lines[1].endswith('|"true"')
