"""The /_sandbox/ admin endpoints, over HTTP as a script driving `leadsync sandbox serve` would."""

from __future__ import annotations

from typing import Any

import requests
from simple_salesforce import Salesforce

from connector.sandbox import Sandbox

V = "/services/data/v59.0"


def admin(sb: Sandbox, method: str, path: str, body: Any = None,
          token: str | None = None) -> requests.Response:
    return requests.request(method, f"{sb.url}/_sandbox/{path}", json=body, timeout=5,
                            headers={"Authorization": f"Bearer {token or sb.token}"})


def test_admin_requires_the_token(sandbox: Sandbox) -> None:
    assert admin(sandbox, "GET", "dump", token="wrong").status_code == 401


def test_load_dump_reset(sandbox: Sandbox, sf: Salesforce) -> None:
    data = {"salesforce": {"records": {"Lead": [{"LastName": "Doe", "Company": "Acme"}]}}}
    resp = admin(sandbox, "POST", "load", data)
    assert resp.status_code == 200 and resp.json()["salesforce"]["records"]["Lead"] == 1
    assert sf.query("SELECT LastName FROM Lead")["records"][0]["LastName"] == "Doe"
    dumped = admin(sandbox, "GET", "dump").json()
    assert [r["LastName"] for r in dumped["salesforce"]["records"]["Lead"]] == ["Doe"]
    assert "hubspot" in dumped
    assert admin(sandbox, "POST", "reset").json() == {"ok": True}
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0
    assert admin(sandbox, "POST", "load", dumped).status_code == 200
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 1


def test_bad_load_is_a_400_with_a_reason(sandbox: Sandbox) -> None:
    resp = admin(sandbox, "POST", "load", {"salesforce": {"records": {"Lead": [{"LastName": "x"}]}}})
    assert resp.status_code == 400
    assert "records.Lead[0]" in resp.json()["error"] and "REQUIRED_FIELD_MISSING" in resp.json()["error"]


def test_convert_lead(sandbox: Sandbox, sf: Salesforce) -> None:
    lead = sf.Lead.create({"LastName": "Doe", "Company": "Acme", "Email": "a@example.com"})["id"]
    resp = admin(sandbox, "POST", "convert-lead", {"lead_id": lead})
    result = resp.json()
    assert resp.status_code == 200 and result["leadId"] == lead
    assert result["contactId"].startswith("003") and result["accountId"].startswith("001")
    assert sf.Lead.get(lead)["ConvertedContactId"] == result["contactId"]
    again = admin(sandbox, "POST", "convert-lead", {"lead_id": lead})
    assert again.status_code == 400 and again.json()["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert admin(sandbox, "POST", "convert-lead", {}).status_code == 400


def test_counters(sandbox: Sandbox, sf: Salesforce) -> None:
    sf.query("SELECT Id FROM Lead")
    sf.Lead.create({"LastName": "Doe", "Company": "Acme"})
    body = admin(sandbox, "GET", "counters").json()
    assert body["counters"]["salesforce.query"] == 1
    assert body["counters"]["salesforce.sobjects"] == 1
    assert body["salesforce"]["api_usage"] == {"used": 2, "limit": 100000}
    assert admin(sandbox, "POST", "counters/reset").status_code == 200
    counters = admin(sandbox, "GET", "counters").json()["counters"]
    assert "salesforce.query" not in counters


def test_faults_read_and_configure(sandbox: Sandbox, sf: Salesforce) -> None:
    body = admin(sandbox, "GET", "faults").json()
    assert body["settings"]["error_rate"] == 0.0
    resp = admin(sandbox, "POST", "faults", {"fail_next": ["error_503"], "retry_after": None})
    assert resp.status_code == 200 and resp.json()["settings"]["fail_next"] == ["error_503"]
    r = requests.get(f"{sandbox.url}{V}/limits/", timeout=5,
                     headers={"Authorization": f"Bearer {sandbox.token}"})
    assert r.status_code == 503
    assert admin(sandbox, "GET", "faults").json()["stats"]["error_503"] == 1
    assert admin(sandbox, "GET", "counters").json()["faults"]["error_503"] == 1
    bad = admin(sandbox, "POST", "faults", {"error_rate": 5})
    assert bad.status_code == 400 and "error_rate" in bad.json()["error"]


def test_salesforce_limit(sandbox: Sandbox, sf: Salesforce) -> None:
    resp = admin(sandbox, "POST", "salesforce/limit", {"api_limit": 10, "used": 9})
    assert resp.json() == {"used": 9, "limit": 10}
    sf.limits()
    r = requests.get(f"{sandbox.url}{V}/limits/", timeout=5,
                     headers={"Authorization": f"Bearer {sandbox.token}"})
    assert r.status_code == 403 and r.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert admin(sandbox, "POST", "salesforce/limit", {"api_limit": -1}).status_code == 400
