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


def _lead(sf: Salesforce, name: str) -> str:
    return sf.Lead.create({"LastName": name, "Company": "Acme", "Email": f"{name}@example.com"})["id"]


def test_merge_deletes_the_loser_into_the_recycle_bin_and_moves_its_membership(
        sandbox: Sandbox, sf: Salesforce) -> None:
    master, loser = _lead(sf, "master"), _lead(sf, "loser")
    campaign = sandbox.app.salesforce.insert("Campaign", {"Name": "Webinar"})
    member = sf.CampaignMember.create({"CampaignId": campaign, "LeadId": loser, "Status": "Responded"})["id"]

    resp = admin(sandbox, "POST", "merge", {"sobject": "Lead", "master": master, "losers": [loser]})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"id": master, "mergedRecordIds": [loser], "updatedRelatedIds": [member],
                           "success": True, "errors": []}
    # query no longer sees the loser; queryAll does, deleted, naming its master.
    assert [r["Id"] for r in sf.query("SELECT Id FROM Lead")["records"]] == [master]
    rows = sf.query_all("SELECT Id, IsDeleted, MasterRecordId FROM Lead WHERE Id IN ('%s', '%s')"
                        % (master, loser), include_deleted=True)["records"]
    assert {r["Id"]: (r["IsDeleted"], r["MasterRecordId"]) for r in rows} == {
        master: (False, None), loser: (True, master)}
    gone = requests.get(f"{sandbox.url}{V}/sobjects/Lead/{loser}", timeout=5,
                        headers={"Authorization": f"Bearer {sandbox.token}"})
    assert gone.status_code == 404 and gone.json()[0]["errorCode"] == "ENTITY_IS_DELETED"
    # The membership moved with the merge: same Id, now on the master, with its person fields.
    moved = sf.CampaignMember.get(member)
    assert (moved["LeadId"], moved["LeadOrContactId"], moved["Email"], moved["Status"]) == (
        master, master, "master@example.com", "Responded")


def test_merge_drops_a_membership_the_master_already_has(sandbox: Sandbox, sf: Salesforce) -> None:
    master, loser = _lead(sf, "master"), _lead(sf, "loser")
    campaign = sandbox.app.salesforce.insert("Campaign", {"Name": "Webinar"})
    kept = sf.CampaignMember.create({"CampaignId": campaign, "LeadId": master, "Status": "Sent"})["id"]
    dropped = sf.CampaignMember.create({"CampaignId": campaign, "LeadId": loser, "Status": "Responded"})["id"]
    assert admin(sandbox, "POST", "merge", {"sobject": "Lead", "master": master,
                                            "losers": [loser]}).json()["updatedRelatedIds"] == []
    live = sf.query("SELECT Id, LeadId, Status FROM CampaignMember")["records"]
    assert [(m["Id"], m["LeadId"], m["Status"]) for m in live] == [(kept, master, "Sent")]
    binned = sf.query_all("SELECT Id, IsDeleted FROM CampaignMember WHERE IsDeleted = true",
                          include_deleted=True)["records"]
    assert [m["Id"] for m in binned] == [dropped]


def test_merge_up_to_three_records_all_or_nothing(sandbox: Sandbox, sf: Salesforce) -> None:
    a, b, c, d = (_lead(sf, n) for n in "abcd")
    too_many = admin(sandbox, "POST", "merge", {"sobject": "Lead", "master": a, "losers": [b, c, d]})
    assert too_many.status_code == 400 and too_many.json()["errorCode"] == "LIMIT_EXCEEDED"
    itself = admin(sandbox, "POST", "merge", {"sobject": "Lead", "master": a, "losers": [a]})
    assert itself.status_code == 400 and itself.json()["errorCode"] == "INVALID_ID_FIELD"
    missing = admin(sandbox, "POST", "merge", {"sobject": "Lead", "master": a, "losers": [b, "00Q000000000009"]})
    assert missing.status_code == 400
    assert admin(sandbox, "POST", "merge", {"sobject": "Campaign", "master": a, "losers": [b]}).status_code == 400
    assert admin(sandbox, "POST", "merge", {"master": a, "losers": b}).status_code == 400
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 4            # nothing merged
    ok = admin(sandbox, "POST", "merge", {"sobject": "Lead", "master": a, "losers": [b, c]})
    assert ok.status_code == 200 and ok.json()["mergedRecordIds"] == [b, c]
    assert [r["Id"] for r in sf.query("SELECT Id FROM Lead")["records"]] == [a, d]
    # Merged again: the first losers keep naming the record they were merged into.
    sandbox.app.salesforce.merge("Lead", d, [a])
    rows = sf.query_all("SELECT Id, MasterRecordId FROM Lead WHERE IsDeleted = true",
                        include_deleted=True)["records"]
    assert {r["Id"]: r["MasterRecordId"] for r in rows} == {b: a, c: a, a: d}


def test_merge_contacts_moves_memberships_by_contact(sandbox: Sandbox, sf: Salesforce) -> None:
    account = sandbox.app.salesforce.insert("Account", {"Name": "Acme"})
    master = sf.Contact.create({"LastName": "M", "AccountId": account, "Email": "m@example.com"})["id"]
    loser = sf.Contact.create({"LastName": "L", "Email": "l@example.com"})["id"]
    campaign = sandbox.app.salesforce.insert("Campaign", {"Name": "Webinar"})
    member = sf.CampaignMember.create({"CampaignId": campaign, "ContactId": loser})["id"]
    sandbox.app.salesforce.merge("Contact", master, [loser])
    moved = sf.CampaignMember.get(member)
    assert (moved["ContactId"], moved["Email"], moved["CompanyOrAccount"]) == (master, "m@example.com", "Acme")
    rows = sf.query_all("SELECT Id, MasterRecordId FROM Contact WHERE IsDeleted = true",
                        include_deleted=True)["records"]
    assert [(r["Id"], r["MasterRecordId"]) for r in rows] == [(loser, master)]


def test_hubspot_scopes_can_be_revoked_and_granted_again(sandbox: Sandbox) -> None:
    """A private app without the marketing events scope, rehearsed over HTTP."""
    read = "crm.objects.marketing_events.read"
    url = f"{sandbox.url}/marketing/v3/marketing-events/participations/1/breakdown"
    auth = {"Authorization": f"Bearer {sandbox.token}"}
    assert admin(sandbox, "POST", "hubspot/scopes", {"revoked": [read]}).json() == {
        "revoked": [read], "granted": None}
    refused = requests.get(url, headers=auth, timeout=5)
    assert refused.status_code == 403 and refused.json()["category"] == "MISSING_SCOPES"
    assert admin(sandbox, "POST", "hubspot/scopes", {"revoked": []}).json() == {
        "revoked": [], "granted": None}
    assert requests.get(url, headers=auth, timeout=5).status_code == 404   # no such event
    assert admin(sandbox, "POST", "hubspot/scopes", {"revoked": "x"}).status_code == 400


def test_a_private_app_holding_only_the_scopes_ticked_is_rehearsed_over_http(sandbox: Sandbox) -> None:
    """``{"granted": [...]}``: the app holds those scopes and no other (a route whose spec
    lists 100 alternatives cannot be refused by revoking a few); ``{}`` gives every scope."""
    url = f"{sandbox.url}/crm/v3/properties/contacts"
    auth = {"Authorization": f"Bearer {sandbox.token}"}
    assert admin(sandbox, "POST", "hubspot/scopes", {"granted": ["forms"]}).json() == {
        "revoked": [], "granted": ["forms"]}
    refused = requests.get(url, headers=auth, timeout=5)
    assert refused.status_code == 403 and refused.json()["category"] == "MISSING_SCOPES"
    assert admin(sandbox, "POST", "hubspot/scopes",
                 {"granted": ["forms", "crm.schemas.contacts.read"]}).status_code == 200
    assert requests.get(url, headers=auth, timeout=5).status_code == 200
    assert admin(sandbox, "POST", "hubspot/scopes", {"granted": "forms"}).status_code == 400
    assert admin(sandbox, "POST", "hubspot/scopes", {}).json() == {"revoked": [], "granted": None}
    assert requests.get(url, headers=auth, timeout=5).status_code == 200
