"""The sandbox's Salesforce REST API, driven through simple-salesforce as leadsync drives it.

Every endpoint, rule and error shape the connector relies on is exercised over the wire;
the assertions name Salesforce's own status codes, errorCodes and JSON keys so that a
drift from the vendor's behaviour shows up here first.
"""

from __future__ import annotations

import json

import pytest
import requests
from simple_salesforce import (Salesforce, SalesforceExpiredSession, SalesforceGeneralError,
                               SalesforceMalformedRequest, SalesforceRefusedRequest,
                               SalesforceResourceNotFound, format_soql)
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceMoreThanOneRecord

from conftest import sandbox_session
from connector.sandbox import Sandbox
from connector.sandbox.sf_schema import id_suffix, to_id18
from connector.sandbox.sf_store import QUEUE_USER_ID, SfError

V = "/services/data/v59.0"


def lead(sf: Salesforce, **fields: object) -> str:
    body = {"LastName": "Doe", "Company": "Acme", **fields}
    return sf.Lead.create(body)["id"]


def campaign(sf: Salesforce, name: str = "Webinar") -> str:
    return sf.Campaign.create({"Name": name})["id"]


def raw(sb: Sandbox, method: str, path: str, token: str | None = None, **kw: object) -> requests.Response:
    headers = {"Authorization": f"Bearer {token or sb.token}"} if token != "" else {}
    return requests.request(method, sb.url + path, headers=headers, timeout=5, **kw)


# -- ids and system fields ---------------------------------------------------------------

def test_ids_are_18_chars_with_key_prefixes_and_valid_checksums(sf: Salesforce) -> None:
    ids = {"00Q": lead(sf), "701": campaign(sf),
           "001": sf.Account.create({"Name": "Acme"})["id"],
           "003": sf.Contact.create({"LastName": "Roe"})["id"],
           "00T": sf.Task.create({"Subject": "Call"})["id"]}
    ids["00v"] = sf.CampaignMember.create({"CampaignId": ids["701"], "LeadId": ids["00Q"]})["id"]
    for prefix, rid in ids.items():
        assert len(rid) == 18 and rid.startswith(prefix)
        assert id_suffix(rid[:15]) == rid[15:]
    user = sf.query("SELECT Id FROM User LIMIT 1")["records"][0]["Id"]
    assert user.startswith("005")


def test_fifteen_char_ids_work_in_lookups_and_queries(sf: Salesforce) -> None:
    rid = lead(sf, Email="a@example.com")
    assert sf.Lead.get(rid[:15])["Id"] == rid
    res = sf.query(format_soql("SELECT Id FROM Lead WHERE Id = {}", rid[:15]))
    assert [r["Id"] for r in res["records"]] == [rid]
    assert to_id18(rid[:15]) == rid


def test_system_fields_and_strictly_increasing_timestamps(sf: Salesforce) -> None:
    first, second = lead(sf), lead(sf)
    a, b = sf.Lead.get(first), sf.Lead.get(second)
    assert a["CreatedDate"] < b["CreatedDate"]
    assert a["CreatedDate"].endswith("+0000") and len(a["CreatedDate"]) == 28
    assert a["IsDeleted"] is False and a["IsConverted"] is False
    assert a["Status"] == "Open - Not Contacted"
    assert a["Name"] == "Doe" and a["CreatedById"].startswith("005")
    assert a["attributes"] == {"type": "Lead", "url": f"{V}/sobjects/Lead/{first}"}
    sf.Lead.update(first, {"FirstName": "Pat"})
    after = sf.Lead.get(first)
    assert after["Name"] == "Pat Doe"
    assert after["LastModifiedDate"] > b["CreatedDate"] and after["SystemModstamp"] == after["LastModifiedDate"]


# -- auth, versions, limits ---------------------------------------------------------------

def test_oauth_client_credentials_login(sandbox: Sandbox) -> None:
    sf = Salesforce(consumer_key="ck", consumer_secret="cs", domain="acme.my",
                    session=sandbox_session(sandbox.url))
    assert sf.session_id == sandbox.token
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0


def test_oauth_password_grant_and_token_shape(sandbox: Sandbox) -> None:
    resp = raw(sandbox, "POST", "/services/oauth2/token", token="",
               data={"grant_type": "password", "client_id": "ck", "client_secret": "cs",
                     "username": "u@example.com", "password": "pw"})
    body = resp.json()
    assert resp.status_code == 200 and body["access_token"] == sandbox.token
    assert body["instance_url"] == sandbox.url and body["token_type"] == "Bearer"
    assert {"id", "issued_at", "signature"} <= set(body)
    sf = Salesforce(username="u@example.com", password="pw", consumer_key="ck",
                    consumer_secret="cs", session=sandbox_session(sandbox.url))
    assert sf.limits()["DailyApiRequests"]["Max"] == 100000


def test_soap_password_login(sandbox: Sandbox) -> None:
    sf = Salesforce(username="u@example.com", password="pw", security_token="tok",
                    session=sandbox_session(sandbox.url))
    assert sf.session_id == sandbox.token
    assert sf.sf_instance == sandbox.url.split("//")[1]
    assert sf.query("SELECT Id FROM User")["totalSize"] == 2


def test_configured_credentials_are_enforced(sandbox: Sandbox) -> None:
    sandbox.app.load({"salesforce": {"credentials": {"username": "u@x.com", "password": "pw"}}})
    with pytest.raises(SalesforceAuthenticationFailed) as err:
        Salesforce(username="u@x.com", password="nope", security_token="t",
                   session=sandbox_session(sandbox.url))
    assert err.value.code == "INVALID_LOGIN"
    Salesforce(username="u@x.com", password="pw", security_token="t",
               session=sandbox_session(sandbox.url))
    bad = raw(sandbox, "POST", "/services/oauth2/token", token="",
              data={"grant_type": "password", "username": "u@x.com", "password": "x"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    assert raw(sandbox, "POST", "/services/oauth2/token", token="",
               data={"grant_type": "magic"}).json()["error"] == "unsupported_grant_type"


def test_missing_or_wrong_token_gets_invalid_session_id(sandbox: Sandbox) -> None:
    sf = Salesforce(instance_url=sandbox.url, session_id="wrong",
                    session=sandbox_session(sandbox.url), version="59.0")
    with pytest.raises(SalesforceExpiredSession) as err:
        sf.query("SELECT Id FROM Lead")
    assert err.value.content == [{"message": "Session expired or invalid",
                                  "errorCode": "INVALID_SESSION_ID"}]
    assert raw(sandbox, "GET", f"{V}/limits/", token="").status_code == 401


def test_versions_are_public_and_list_59(sandbox: Sandbox) -> None:
    resp = raw(sandbox, "GET", "/services/data/", token="")
    versions = {v["version"]: v for v in resp.json()}
    assert resp.status_code == 200
    assert versions["59.0"] == {"label": "Winter '24", "url": "/services/data/v59.0",
                                "version": "59.0"}


def test_limit_header_counts_every_call_and_limits_endpoint(sf: Salesforce, sandbox: Sandbox) -> None:
    sf.query("SELECT Id FROM Lead")
    sf.query("SELECT Id FROM Lead")
    assert sf.api_usage["api-usage"].used == 2
    assert sf.api_usage["api-usage"].total == 100000
    limits = sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 100000, "Remaining": 100000 - 3}
    assert sandbox.app.salesforce.api_usage == (3, 100000)
    resp = raw(sandbox, "GET", f"{V}/sobjects/Lead/describe/")
    assert resp.headers["Sforce-Limit-Info"] == "api-usage=4/100000"


def test_past_the_limit_every_call_gets_request_limit_exceeded(sf: Salesforce, sandbox: Sandbox) -> None:
    sandbox.app.salesforce.set_api_limit(5, used=4)
    lead(sf)
    for call in (lambda: sf.query("SELECT Id FROM Lead"), lambda: lead(sf), sf.limits):
        with pytest.raises(SalesforceRefusedRequest) as err:
            call()
        assert err.value.status == 403
        assert err.value.content == [{"message": "TotalRequests Limit exceeded.",
                                      "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    resp = raw(sandbox, "GET", f"{V}/limits/")
    assert resp.headers["Sforce-Limit-Info"] == "api-usage=5/5"
    assert len(sandbox.app.salesforce.records("Lead")) == 1


# -- query ----------------------------------------------------------------------------------

def test_query_shape_and_case_insensitive_email(sf: Salesforce) -> None:
    rid = lead(sf, Email="Pat.Smith@Example.com", FirstName="Pat")
    res = sf.query(format_soql("SELECT Id, Email, FirstName FROM Lead WHERE Email = {}",
                               "pat.smith@example.COM"))
    assert res["totalSize"] == 1 and res["done"] is True and "nextRecordsUrl" not in res
    assert res["records"][0] == {
        "attributes": {"type": "Lead", "url": f"{V}/sobjects/Lead/{rid}"},
        "Id": rid, "Email": "Pat.Smith@Example.com", "FirstName": "Pat"}


def test_query_without_id_still_carries_record_url(sf: Salesforce) -> None:
    rid = lead(sf, Email="x@example.com")
    rec = sf.query("SELECT Email FROM Lead")["records"][0]
    assert rec == {"attributes": {"type": "Lead", "url": f"{V}/sobjects/Lead/{rid}"},
                   "Email": "x@example.com"}


def test_quotes_and_backslashes_round_trip_through_format_soql(sf: Salesforce) -> None:
    tricky = "o'brien\\x@example.com"
    sandbox_id = lead(sf, LastName="O'Brien \"Bob\"", Email="obrien@example.com")
    lead(sf, Description=tricky, LastName="Other")
    res = sf.query(format_soql("SELECT Id FROM Lead WHERE LastName = {}", "O'Brien \"Bob\""))
    assert [r["Id"] for r in res["records"]] == [sandbox_id]
    res = sf.query(format_soql("SELECT Description FROM Lead WHERE LastName = {}", "Other"))
    assert res["records"][0]["Description"] == tricky
    res = sf.query(format_soql("SELECT Id FROM Lead WHERE LastName LIKE '{:like}%'", "O'Brien"))
    assert res["totalSize"] == 1


def test_in_list_of_200_emails(sf: Salesforce, sandbox: Sandbox) -> None:
    app = sandbox.app.salesforce
    for i in range(300):
        app.insert("Lead", {"LastName": f"L{i}", "Company": "Acme", "Email": f"p{i}@example.com"})
    wanted = [f"P{i}@EXAMPLE.com" for i in range(0, 400, 2)]
    assert len(wanted) == 200
    res = sf.query_all(format_soql("SELECT Id, Email FROM Lead WHERE Email IN {}", wanted))
    assert res["totalSize"] == 150
    assert {r["Email"] for r in res["records"]} == {f"p{i}@example.com" for i in range(0, 300, 2)}
    res = sf.query(format_soql("SELECT COUNT() FROM Lead WHERE Email NOT IN {}", wanted))
    assert res["totalSize"] == 150 and res["records"] == []


def test_paging_with_batch_size_and_query_all(sf: Salesforce, sandbox: Sandbox) -> None:
    app = sandbox.app.salesforce
    for i in range(450):
        app.insert("Lead", {"LastName": f"L{i:03d}", "Company": "Acme"})
    first = sf.query("SELECT Id, LastName FROM Lead ORDER BY LastName",
                     headers={"Sforce-Query-Options": "batchSize=200"})
    assert first["totalSize"] == 450 and first["done"] is False and len(first["records"]) == 200
    assert first["nextRecordsUrl"].startswith(f"{V}/query/01g") and first["nextRecordsUrl"].endswith("-200")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert second["records"][0]["LastName"] == "L200" and second["totalSize"] == 450
    everything = sf.query_all("SELECT Id, LastName FROM Lead ORDER BY LastName",
                              headers={"Sforce-Query-Options": "batchSize=200"})
    assert [r["LastName"] for r in everything["records"]] == [f"L{i:03d}" for i in range(450)]
    tiny = sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=5"})
    assert len(tiny["records"]) == 200   # the minimum batch size is 200


def test_default_page_is_2000_rows(sf: Salesforce, sandbox: Sandbox) -> None:
    app = sandbox.app.salesforce
    for i in range(2100):
        app.insert("Lead", {"LastName": f"L{i}", "Company": "Acme"})
    first = sf.query("SELECT Id FROM Lead")
    assert len(first["records"]) == 2000 and first["nextRecordsUrl"].endswith("-2000")
    assert len(sf.query_all("SELECT Id FROM Lead")["records"]) == 2100


def test_invalid_query_locator(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query_more(f"{V}/query/01g8c0000000999AAA-2000", identifier_is_url=True)
    assert err.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_query_errors(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query("SELECT Id FROM Lead WHERE")
    assert err.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query("SELECT Idd FROM Lead")
    assert err.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query("SELECT Id FROM Opportunityy")
    assert err.value.content[0]["errorCode"] == "INVALID_TYPE"


def test_query_all_returns_deleted_rows(sf: Salesforce) -> None:
    rid = lead(sf)
    sf.Lead.delete(rid)
    assert sf.query("SELECT Id FROM Lead")["totalSize"] == 0
    rows = sf.query_all("SELECT Id, IsDeleted FROM Lead", include_deleted=True)["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in rows] == [(rid, True)]


def test_query_all_pages_through_query_locators(sf: Salesforce, sandbox: Sandbox) -> None:
    app = sandbox.app.salesforce
    ids = [app.insert("Lead", {"LastName": f"L{i:03d}", "Company": "Acme"}) for i in range(250)]
    for rid in ids[:30]:
        app.delete("Lead", rid)
    first = sf.query("SELECT Id FROM Lead", include_deleted=True,
                     headers={"Sforce-Query-Options": "batchSize=200"})
    # The REST guide: a queryAll's next page is fetched under query/, deleted rows included.
    assert first["totalSize"] == 250 and first["nextRecordsUrl"].startswith(f"{V}/query/01g")
    rest = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert len(first["records"]) + len(rest["records"]) == 250 and rest["done"] is True


# -- sObject rows --------------------------------------------------------------------------

def test_create_get_update_delete(sf: Salesforce) -> None:
    rid = lead(sf, Email="a@example.com", NumberOfEmployees=50, AnnualRevenue=1000,
               HasOptedOutOfEmail=True)
    got = sf.Lead.get(rid)
    assert got["NumberOfEmployees"] == 50 and got["AnnualRevenue"] == 1000.0
    assert got["HasOptedOutOfEmail"] is True and got["Phone"] is None
    assert sf.Lead.update(rid, {"Title": "CTO", "Phone": ""}) == 204
    assert sf.Lead.get(rid)["Title"] == "CTO"
    partial = sf.Lead.get(rid, headers=None)
    assert "Email" in partial
    assert sf.Lead.delete(rid) == 204
    with pytest.raises(SalesforceResourceNotFound) as err:
        sf.Lead.get(rid)
    assert err.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
    with pytest.raises(SalesforceResourceNotFound) as err:
        sf.Lead.update(rid, {"Title": "x"})
    assert err.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_get_with_fields_parameter_and_unknown_ids(sf: Salesforce, sandbox: Sandbox) -> None:
    rid = lead(sf, Email="a@example.com")
    resp = raw(sandbox, "GET", f"{V}/sobjects/Lead/{rid}?fields=Email,company")
    assert resp.json() == {"attributes": {"type": "Lead", "url": f"{V}/sobjects/Lead/{rid}"},
                           "Email": "a@example.com", "Company": "Acme"}
    with pytest.raises(SalesforceResourceNotFound) as err:
        sf.Lead.get("00Q8c0000009999")
    assert err.value.content == [{"errorCode": "NOT_FOUND",
                                  "message": "The requested resource does not exist"}]
    with pytest.raises(SalesforceResourceNotFound):
        sf.Lead.get("garbage")
    with pytest.raises(SalesforceResourceNotFound):
        sf.restful("sobjects/Nope/describe/")


def test_validation_errors_have_salesforce_shapes(sf: Salesforce) -> None:
    cases = [
        ({"LastName": "x"}, "REQUIRED_FIELD_MISSING", "Required fields are missing: [Company]", ["Company"]),
        ({}, "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName, Company]",
         ["LastName", "Company"]),
        ({"LastName": "x", "Company": "y", "Email": "bad"}, "INVALID_EMAIL_ADDRESS",
         "Email: invalid email address: bad", ["Email"]),
        ({"LastName": "x" * 81, "Company": "y"}, "STRING_TOO_LONG",
         f"Last Name: data value too large: {'x' * 81} (max length=80)", ["LastName"]),
        ({"LastName": "x", "Company": "y", "IsConverted": True}, "INVALID_FIELD_FOR_INSERT_UPDATE",
         None, ["IsConverted"]),
    ]
    for body, code, message, fields in cases:
        with pytest.raises(SalesforceMalformedRequest) as err:
            sf.Lead.create(body)
        item = err.value.content[0]
        assert (item["errorCode"], item["fields"]) == (code, fields)
        if message:
            assert item["message"] == message
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.Lead.create({"LastName": "x", "Company": "y", "Shoe_Size__c": 9})
    assert err.value.content == [{"errorCode": "INVALID_FIELD",
                                  "message": "No such column 'Shoe_Size__c' on sobject of type Lead"}]
    rid = lead(sf)
    for body, code in (({"CreatedDate": "2024-01-01T00:00:00Z"}, "INVALID_FIELD_FOR_INSERT_UPDATE"),
                       ({"LastName": None}, "REQUIRED_FIELD_MISSING"),
                       ({"FirstName": "y" * 41}, "STRING_TOO_LONG"),
                       ({"NumberOfEmployees": "many"}, "JSON_PARSER_ERROR")):
        with pytest.raises(SalesforceMalformedRequest) as err:
            sf.Lead.update(rid, body)
        assert err.value.content[0]["errorCode"] == code


def test_reference_integrity(sf: Salesforce) -> None:
    camp, rid = campaign(sf), lead(sf)
    cases = [({"CampaignId": "notanid", "LeadId": rid}, "MALFORMED_ID"),
             ({"CampaignId": rid, "LeadId": rid}, "FIELD_INTEGRITY_EXCEPTION"),
             ({"CampaignId": "7018c0000009999", "LeadId": rid}, "INVALID_CROSS_REFERENCE_KEY"),
             ({"CampaignId": camp}, "REQUIRED_FIELD_MISSING"),
             ({"LeadId": rid}, "REQUIRED_FIELD_MISSING")]
    for body, code in cases:
        with pytest.raises(SalesforceMalformedRequest) as err:
            sf.CampaignMember.create(body)
        assert err.value.content[0]["errorCode"] == code, body
    gone = lead(sf)
    sf.Lead.delete(gone)
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.CampaignMember.create({"CampaignId": camp, "LeadId": gone})
    assert err.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_upsert_by_external_id(sf: Salesforce, sandbox: Sandbox) -> None:
    resp = raw(sandbox, "PATCH", f"{V}/sobjects/Lead/Leadsync_Response_Id__c/conv-1",
               json={"LastName": "Doe", "Company": "Acme"})
    assert resp.status_code == 201
    created = resp.json()
    assert created["success"] is True and created["created"] is True and created["errors"] == []
    assert sf.Lead.upsert("Leadsync_Response_Id__c/conv-1", {"Title": "VP"}) == 200
    again = raw(sandbox, "PATCH", f"{V}/sobjects/Lead/Leadsync_Response_Id__c/CONV-1",
                json={"Title": "CEO"}).json()
    assert again == {"id": created["id"], "success": True, "errors": [], "created": False}
    assert len(sandbox.app.salesforce.records("Lead")) == 1
    got = sf.Lead.get_by_custom_id("Leadsync_Response_Id__c", "conv-1")
    assert got["Id"] == created["id"] and got["Title"] == "CEO"
    old_api = raw(sandbox, "PATCH", "/services/data/v45.0/sobjects/Lead/Leadsync_Response_Id__c/conv-1",
                  json={"Title": "x"})
    assert old_api.status_code == 204
    with pytest.raises(SalesforceResourceNotFound) as err:
        sf.Lead.upsert("Email/a@example.com", {"LastName": "x", "Company": "y"})
    assert err.value.content[0]["errorCode"] == "NOT_FOUND"


def test_unique_external_id_is_enforced(sf: Salesforce) -> None:
    lead(sf, Leadsync_Response_Id__c="r-1")
    with pytest.raises(SalesforceMalformedRequest) as err:
        lead(sf, Leadsync_Response_Id__c="R-1")
    assert err.value.content[0]["errorCode"] == "DUPLICATE_VALUE"


def test_non_unique_external_id_upsert_gets_300(sandbox: Sandbox) -> None:
    sandbox.app.load({"salesforce": {"schema": {"Lead": {"Ext__c": {"type": "string",
                                                                    "externalId": True}}}}})
    sf = Salesforce(instance_url=sandbox.url, session_id=sandbox.token,
                    session=sandbox_session(sandbox.url), version="59.0")
    lead(sf, Ext__c="same")
    lead(sf, Ext__c="same")
    with pytest.raises(SalesforceMoreThanOneRecord) as err:
        sf.Lead.upsert("Ext__c/same", {"Title": "x"})
    assert len(err.value.content) == 2 and err.value.content[0].startswith(f"{V}/sobjects/Lead/00Q")


def test_describe(sf: Salesforce) -> None:
    desc = sf.Lead.describe()
    assert (desc["name"], desc["keyPrefix"], desc["label"]) == ("Lead", "00Q", "Lead")
    fields = {f["name"]: f for f in desc["fields"]}
    assert fields["Email"]["type"] == "email" and fields["Email"]["length"] == 80
    assert fields["LastName"]["nillable"] is False and fields["LastName"]["createable"] is True
    assert fields["IsConverted"]["createable"] is False and fields["Id"]["updateable"] is False
    ext = fields["Leadsync_Response_Id__c"]
    assert ext["externalId"] and ext["unique"] and ext["custom"] and ext["length"] == 255
    statuses = [p["value"] for p in fields["Status"]["picklistValues"]]
    assert statuses[0] == "Open - Not Contacted"
    assert fields["Status"]["picklistValues"][0]["defaultValue"] is True
    assert {"value", "label", "active", "defaultValue"} <= set(fields["Status"]["picklistValues"][0])
    cm = {f["name"]: f for f in sf.CampaignMember.describe()["fields"]}
    assert cm["Status"]["length"] == 40 and cm["HasResponded"]["updateable"] is False
    assert cm["CampaignId"]["referenceTo"] == ["Campaign"]
    names = {o["name"] for o in sf.describe()["sobjects"]}
    assert {"Lead", "Contact", "Account", "Campaign", "CampaignMember", "CampaignMemberStatus",
            "Task", "User"} <= names


def test_custom_fields_from_dataset_schema(sandbox: Sandbox) -> None:
    sandbox.app.load({"salesforce": {"schema": {"Lead": {
        "Score__c": {"type": "int"}, "Note__c": {"type": "string", "length": 5}}}}})
    sf = Salesforce(instance_url=sandbox.url, session_id=sandbox.token,
                    session=sandbox_session(sandbox.url), version="59.0")
    rid = lead(sf, Score__c=7)
    assert sf.query("SELECT Score__c FROM Lead WHERE Score__c > 5")["records"][0]["Score__c"] == 7
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.Lead.update(rid, {"Note__c": "toolong"})
    assert err.value.content[0]["errorCode"] == "STRING_TOO_LONG"


def test_dataset_schema_redefines_or_deletes_a_default_custom_field(sandbox: Sandbox) -> None:
    ext = "Leadsync_Response_Id__c"
    sandbox.app.load({"salesforce": {"schema": {"Task": {ext: {"type": "string", "length": 255}},
                                                "Lead": {ext: None}}}})
    sf = Salesforce(instance_url=sandbox.url, session_id=sandbox.token,
                    session=sandbox_session(sandbox.url), version="59.0")
    task = {f["name"]: f for f in sf.Task.describe()["fields"]}[ext]
    assert (task["externalId"], task["unique"], task["filterable"]) == (False, False, True)
    assert ext not in {f["name"] for f in sf.Lead.describe()["fields"]}
    with pytest.raises(SalesforceMalformedRequest) as err:
        lead(sf, **{ext: "r-1"})
    assert err.value.content[0]["errorCode"] == "INVALID_FIELD"
    first = sf.Task.create({"Subject": "Call", ext: "r-1"})["id"]
    sf.Task.create({"Subject": "Call", ext: "r-1"})            # not unique: a plain field
    rows = sf.query(f"SELECT Id FROM Task WHERE {ext} IN ('r-1', 'r-2') ORDER BY Id")["records"]
    assert len(rows) == 2 and rows[0]["Id"] == first
    with pytest.raises(SalesforceResourceNotFound):             # not an External ID: no upsert
        sf.restful(f"composite/sobjects/Task/{ext}", method="PATCH",
                   json={"allOrNone": False, "records": [
                       {"attributes": {"type": "Task"}, "Subject": "Call", ext: "r-3"}]})
    dumped = sandbox.app.dump()
    assert dumped["salesforce"]["schema"]["Lead"] == {ext: None}
    sandbox.app.load(dumped)
    assert sandbox.app.dump() == dumped
    with pytest.raises(ValueError, match="only a custom field can be deleted"):
        sandbox.app.load({"salesforce": {"schema": {"Task": {"Subject": None}}}})


# -- campaigns and members ---------------------------------------------------------------------

def test_new_campaign_gets_default_statuses(sf: Salesforce) -> None:
    camp = campaign(sf)
    rows = sf.query(format_soql("SELECT Label, HasResponded, IsDefault FROM CampaignMemberStatus "
                                "WHERE CampaignId = {} ORDER BY SortOrder", camp))["records"]
    assert [(r["Label"], r["HasResponded"], r["IsDefault"]) for r in rows] == [
        ("Sent", False, True), ("Responded", True, False)]


def test_member_status_drives_has_responded(sf: Salesforce) -> None:
    camp = campaign(sf)
    a, b = lead(sf), lead(sf)
    sent = sf.CampaignMember.create({"CampaignId": camp, "LeadId": a})["id"]
    responded = sf.CampaignMember.create({"CampaignId": camp, "LeadId": b, "Status": "responded"})["id"]
    assert sf.CampaignMember.get(sent)["Status"] == "Sent"
    assert sf.CampaignMember.get(sent)["HasResponded"] is False
    got = sf.CampaignMember.get(responded)
    assert (got["Status"], got["HasResponded"]) == ("Responded", True)
    assert got["FirstRespondedDate"] is not None and got["Type"] == "Lead"
    sf.CampaignMember.update(sent, {"Status": "Responded"})
    assert sf.CampaignMember.get(sent)["HasResponded"] is True
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.CampaignMember.update(sent, {"Status": "Attended"})
    assert err.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.CampaignMember.update(sent, {"HasResponded": False})
    assert err.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    # a campaign's own statuses count, including new ones
    sf.CampaignMemberStatus.create({"CampaignId": camp, "Label": "Attended", "HasResponded": True})
    sf.CampaignMember.update(sent, {"Status": "Attended"})
    assert sf.CampaignMember.get(sent)["HasResponded"] is True
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.CampaignMemberStatus.create({"CampaignId": camp, "Label": "attended"})
    assert err.value.content[0]["errorCode"] == "DUPLICATE_VALUE"


def test_one_member_per_campaign_and_person(sf: Salesforce) -> None:
    camp, other, rid = campaign(sf), campaign(sf, "Other"), lead(sf)
    contact = sf.Contact.create({"LastName": "Roe"})["id"]
    sf.CampaignMember.create({"CampaignId": camp, "LeadId": rid})
    sf.CampaignMember.create({"CampaignId": camp, "ContactId": contact})
    sf.CampaignMember.create({"CampaignId": other, "LeadId": rid})
    for body in ({"CampaignId": camp, "LeadId": rid}, {"CampaignId": camp, "ContactId": contact}):
        with pytest.raises(SalesforceMalformedRequest) as err:
            sf.CampaignMember.create(body)
        assert err.value.content == [{"errorCode": "DUPLICATE_VALUE",
                                      "message": "Already a campaign member.", "fields": []}]


def test_deleting_a_lead_or_contact_deletes_its_members(sf: Salesforce) -> None:
    camp, rid = campaign(sf), lead(sf)
    contact = sf.Contact.create({"LastName": "Roe"})["id"]
    sf.CampaignMember.create({"CampaignId": camp, "LeadId": rid})
    sf.CampaignMember.create({"CampaignId": camp, "ContactId": contact})
    sf.Task.create({"Subject": "Follow up", "WhoId": rid})
    sf.Lead.delete(rid)
    rows = sf.query(format_soql("SELECT LeadId, ContactId FROM CampaignMember WHERE CampaignId = {}",
                                camp))["records"]
    assert [(r["LeadId"], r["ContactId"]) for r in rows] == [(None, contact)]
    assert sf.query("SELECT COUNT() FROM Task")["totalSize"] == 0
    sf.Contact.delete(contact)
    assert sf.query("SELECT COUNT() FROM CampaignMember")["totalSize"] == 0


def test_converted_lead_rules(sf: Salesforce, sandbox: Sandbox) -> None:
    camp, rid = campaign(sf), lead(sf, Email="pat@example.com", FirstName="Pat")
    member = sf.CampaignMember.create({"CampaignId": camp, "LeadId": rid})["id"]
    result = sandbox.app.salesforce.convert_lead(rid)
    got = sf.Lead.get(rid)
    assert got["IsConverted"] is True and got["ConvertedContactId"] == result["contactId"]
    assert got["ConvertedAccountId"] == result["accountId"] and got["ConvertedDate"]
    contact = sf.Contact.get(result["contactId"])
    assert (contact["Email"], contact["FirstName"], contact["AccountId"]) == (
        "pat@example.com", "Pat", result["accountId"])
    assert sf.Account.get(result["accountId"])["Name"] == "Acme"
    assert sf.CampaignMember.get(member)["ContactId"] == result["contactId"]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.Lead.update(rid, {"Title": "x"})
    assert err.value.content == [{"errorCode": "CANNOT_UPDATE_CONVERTED_LEAD",
                                  "message": "cannot reference converted lead", "fields": []}]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.CampaignMember.create({"CampaignId": campaign(sf, "New"), "LeadId": rid})
    assert err.value.content[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    with pytest.raises(SfError):
        sandbox.app.salesforce.convert_lead(rid)


def test_convert_into_existing_contact(sf: Salesforce, sandbox: Sandbox) -> None:
    account = sf.Account.create({"Name": "Globex"})["id"]
    contact = sf.Contact.create({"LastName": "Roe", "AccountId": account})["id"]
    rid = lead(sf)
    result = sandbox.app.salesforce.convert_lead(rid, contact_id=contact)
    assert (result["contactId"], result["accountId"]) == (contact, account)
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 1


# -- assignment and duplicate rules ----------------------------------------------------------

def test_auto_assign_header(sf: Salesforce, sandbox: Sandbox) -> None:
    api_user = sandbox.app.salesforce.store.api_user_id
    assigned = lead(sf)
    assert sf.Lead.get(assigned)["OwnerId"] == QUEUE_USER_ID
    kept = sf.Lead.create({"LastName": "x", "Company": "y"},
                          headers={"Sforce-Auto-Assign": "FALSE"})["id"]
    assert sf.Lead.get(kept)["OwnerId"] == api_user
    sf.Lead.update(kept, {"Title": "x"}, headers={"Sforce-Auto-Assign": "FALSE"})
    assert sf.Lead.get(kept)["OwnerId"] == api_user
    sf.Lead.update(kept, {"Title": "y"})   # assignment rules also run on update by default
    assert sf.Lead.get(kept)["OwnerId"] == QUEUE_USER_ID


def test_assignment_owner_from_dataset(sandbox: Sandbox) -> None:
    owner = "0058c00000000ZZ"
    sandbox.app.load({"salesforce": {"assignment_owner_id": owner, "records": {"User": [
        {"Id": owner, "Username": "sdr@x.com", "LastName": "SDR", "Email": "sdr@x.com"}]}}})
    rid = sandbox.app.salesforce.insert("Lead", {"LastName": "x", "Company": "y"}, auto_assign=True)
    assert sandbox.app.salesforce.get("Lead", rid)["OwnerId"] == to_id18(owner)


def test_duplicate_rules(sandbox: Sandbox) -> None:
    sandbox.app.load({"salesforce": {"duplicate_rules": {"Lead": True}}})
    sf = Salesforce(instance_url=sandbox.url, session_id=sandbox.token,
                    session=sandbox_session(sandbox.url), version="59.0")
    first = lead(sf, Email="pat@example.com")
    with pytest.raises(SalesforceMalformedRequest) as err:
        lead(sf, Email="PAT@example.com")
    item = err.value.content[0]
    assert item["errorCode"] == "DUPLICATES_DETECTED"
    assert item["message"].startswith("You're creating a duplicate record")
    dup = item["duplicateResult"]
    assert dup["duplicateRule"] == "Standard_Lead_Duplicate_Rule" and dup["allowSave"] is False
    match = dup["matchResults"][0]
    assert match["matchRecords"][0]["record"]["Id"] == first and match["size"] == 1
    allowed = sf.Lead.create({"LastName": "x", "Company": "y", "Email": "pat@example.com"},
                             headers={"Sforce-Duplicate-Rule-Header": "allowSave=true"})
    assert allowed["success"] is True
    res = sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Lead"}, "LastName": "x", "Company": "y", "Email": "pat@example.com"}]})
    assert res == [{"success": False, "errors": [{"statusCode": "DUPLICATES_DETECTED",
                                                   "message": "Use one of these records?",
                                                   "fields": []}]}]


# -- collections -------------------------------------------------------------------------------

def test_collection_create_partial_success_in_request_order(sf: Salesforce) -> None:
    camp, rid = campaign(sf), lead(sf)
    body = {"allOrNone": False, "records": [
        {"attributes": {"type": "Lead"}, "LastName": "A", "Company": "Acme"},
        {"attributes": {"type": "CampaignMember"}, "CampaignId": camp, "LeadId": rid},
        {"attributes": {"type": "CampaignMember"}, "CampaignId": camp, "LeadId": rid},
        {"attributes": {"type": "Lead"}, "LastName": "B"}]}
    res = sf.restful("composite/sobjects", method="POST", json=body)
    assert [r["success"] for r in res] == [True, True, False, False]
    assert res[0]["id"].startswith("00Q") and res[1]["id"].startswith("00v")
    assert res[2] == {"success": False, "errors": [{"statusCode": "DUPLICATE_VALUE",
                                                    "message": "Already a campaign member.",
                                                    "fields": []}]}
    assert res[3]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"


def test_collection_all_or_none_rolls_back(sf: Salesforce, sandbox: Sandbox) -> None:
    res = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": [
        {"attributes": {"type": "Lead"}, "LastName": "A", "Company": "Acme"},
        {"attributes": {"type": "Lead"}, "LastName": "B", "Email": "bad"}]})
    assert res[0] == {"success": False, "errors": [{
        "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "message": "Record rolled back because not all records were valid and the request was "
                   "using AllOrNone header", "fields": []}]}
    assert res[1]["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS"
    assert sandbox.app.salesforce.records("Lead") == []


def test_collection_update(sf: Salesforce, sandbox: Sandbox) -> None:
    a, b = lead(sf), lead(sf)
    sandbox.app.salesforce.convert_lead(b)
    res = sf.restful("composite/sobjects", method="PATCH", json={"records": [
        {"attributes": {"type": "Lead"}, "id": a, "Title": "CEO"},
        {"attributes": {"type": "Lead"}, "id": b, "Title": "CEO"},
        {"attributes": {"type": "Lead"}, "Title": "no id"}]})
    assert res[0] == {"id": a, "success": True, "errors": []}
    assert res[1]["id"] == b and res[1]["errors"][0]["statusCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert res[2]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert sf.Lead.get(a)["Title"] == "CEO"
    res = sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": True, "records": [
        {"attributes": {"type": "Lead"}, "id": a, "Title": "CFO"},
        {"attributes": {"type": "Lead"}, "id": a, "Email": "bad"}]})
    assert res[0]["id"] == a and res[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert sf.Lead.get(a)["Title"] == "CEO"


def test_collection_upsert_and_duplicate_external_ids(sf: Salesforce) -> None:
    existing = lead(sf, Leadsync_Response_Id__c="c-1")
    res = sf.restful("composite/sobjects/Lead/Leadsync_Response_Id__c", method="PATCH", json={
        "allOrNone": False, "records": [
            {"attributes": {"type": "Lead"}, "Leadsync_Response_Id__c": "c-1", "Title": "x"},
            {"attributes": {"type": "Lead"}, "Leadsync_Response_Id__c": "c-2",
             "LastName": "N", "Company": "C"},
            {"attributes": {"type": "Lead"}, "Leadsync_Response_Id__c": "c-3", "LastName": "N",
             "Company": "C"},
            {"attributes": {"type": "Lead"}, "Leadsync_Response_Id__c": "C-3", "LastName": "N",
             "Company": "C"}]})
    assert res[0] == {"id": existing, "success": True, "errors": [], "created": False}
    assert res[1]["created"] is True and res[1]["success"] is True
    assert [r["errors"][0]["statusCode"] for r in res[2:]] == ["DUPLICATE_EXTERNAL_ID"] * 2
    assert sf.Lead.get(existing)["Title"] == "x"
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 2


def test_collection_limits_and_delete(sf: Salesforce, sandbox: Sandbox) -> None:
    too_many = [{"attributes": {"type": "Lead"}, "LastName": "x", "Company": "y"}] * 201
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.restful("composite/sobjects", method="POST", json={"records": too_many})
    assert err.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    ok = sf.restful("composite/sobjects", method="POST", json={"records": too_many[:200]})
    assert len(ok) == 200 and all(r["success"] for r in ok)
    ids = [r["id"] for r in ok[:3]]
    res = sf.restful("composite/sobjects", method="DELETE",
                     params={"ids": ",".join(ids + ["00Q8c000000zzzz"]), "allOrNone": "false"})
    assert [r["success"] for r in res] == [True, True, True, False]
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 197
    got = sf.restful("composite/sobjects/Lead", params={"ids": ok[5]["id"], "fields": "Id,LastName"})
    assert got[0]["LastName"] == "x"


# -- composite -------------------------------------------------------------------------------

def test_composite_references_and_one_api_call(sf: Salesforce, sandbox: Sandbox) -> None:
    before = sandbox.app.salesforce.api_used
    res = sf.restful("composite", method="POST", json={"allOrNone": False, "collateSubrequests": False,
                                                       "compositeRequest": [
        {"method": "POST", "url": f"{V}/sobjects/Lead/", "referenceId": "newLead",
         "body": {"LastName": "Doe", "Company": "Acme", "Email": "c@example.com"}},
        {"method": "GET", "url": f"{V}/query/?q=SELECT+Id+FROM+Campaign+WHERE+Name='Webinar'",
         "referenceId": "camp"},
        {"method": "POST", "url": f"{V}/sobjects/CampaignMember", "referenceId": "member",
         "body": {"CampaignId": "@{camp.records[0].Id}", "LeadId": "@{newLead.id}",
                  "Status": "Responded"}},
        {"method": "GET", "url": f"{V}/sobjects/Lead/@{{newLead.id}}?fields=Email",
         "referenceId": "check"}]})
    out = {r["referenceId"]: r for r in res["compositeResponse"]}
    assert out["newLead"]["httpStatusCode"] == 201
    assert out["newLead"]["httpHeaders"]["Location"].endswith(out["newLead"]["body"]["id"])
    assert out["camp"]["httpStatusCode"] == 200 and out["camp"]["body"]["totalSize"] == 0
    assert out["member"]["httpStatusCode"] == 400
    assert out["member"]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert out["check"]["body"]["Email"] == "c@example.com"
    assert sandbox.app.salesforce.api_used == before + 1


def test_composite_all_or_none_rolls_back_everything(sf: Salesforce, sandbox: Sandbox) -> None:
    camp = campaign(sf)
    res = sf.restful("composite", method="POST", json={"allOrNone": True, "compositeRequest": [
        {"method": "POST", "url": f"{V}/sobjects/Lead", "referenceId": "l1",
         "body": {"LastName": "Doe", "Company": "Acme"}},
        {"method": "POST", "url": f"{V}/sobjects/CampaignMember", "referenceId": "m1",
         "body": {"CampaignId": camp, "LeadId": "@{l1.id}", "Status": "Nope"}},
        {"method": "POST", "url": f"{V}/sobjects/Lead", "referenceId": "l2",
         "body": {"LastName": "Roe", "Company": "Acme"}}]})
    codes = [(r["httpStatusCode"], r["body"][0]["errorCode"]) for r in res["compositeResponse"]]
    assert codes == [(400, "PROCESSING_HALTED"), (400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
                     (400, "PROCESSING_HALTED")]
    assert sandbox.app.salesforce.records("Lead") == []


def test_composite_limits(sf: Salesforce) -> None:
    subs = [{"method": "GET", "url": f"{V}/limits/", "referenceId": f"r{i}"} for i in range(26)]
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("composite", method="POST", json={"compositeRequest": subs})
    res = sf.restful("composite", method="POST", json={"compositeRequest": subs[:25]})
    assert len(res["compositeResponse"]) == 25


# -- wire details ------------------------------------------------------------------------------

def test_unknown_path_and_wrong_method(sandbox: Sandbox) -> None:
    resp = raw(sandbox, "GET", f"{V}/nothing/here")
    assert resp.status_code == 404 and resp.json()[0]["errorCode"] == "NOT_FOUND"
    resp = raw(sandbox, "PUT", f"{V}/sobjects/Lead/00Q8c0000000001")
    assert resp.status_code == 405 and resp.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"


def test_bad_json_body(sandbox: Sandbox) -> None:
    resp = raw(sandbox, "POST", f"{V}/sobjects/Lead/", data=b"{not json")
    assert resp.status_code == 400 and resp.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


# -- dataset and helpers -----------------------------------------------------------------------

def test_dataset_round_trip_with_explicit_ids(sandbox: Sandbox) -> None:
    data = {"salesforce": {"api_limit": 500, "records": {
        "Campaign": [{"Id": "7018c00000000AB", "Name": "Spring"}],
        "Lead": [{"Id": "00Q8c00000000AB", "LastName": "Doe", "Company": "Acme",
                  "Email": "pat@example.com", "CreatedDate": "2024-05-01T10:00:00Z"}],
        "CampaignMember": [{"CampaignId": "7018c00000000AB", "LeadId": "00Q8c00000000AB",
                            "Status": "Responded"}]}}}
    sandbox.app.load(data)
    sf = sandbox.app.salesforce
    got = sf.get("Lead", "00Q8c00000000AB")
    assert got["CreatedDate"] == "2024-05-01T10:00:00.000+0000"
    assert sf.records("CampaignMember")[0]["HasResponded"] is True
    assert sf.api_usage == (0, 500)
    newer = sf.insert("Lead", {"LastName": "New", "Company": "Acme"})
    assert sf.get("Lead", newer)["CreatedDate"] > got["CreatedDate"]
    dumped = sandbox.app.dump()
    json.dumps(dumped)   # JSON-serialisable
    sandbox.app.reset()
    sandbox.app.load(dumped)
    assert sandbox.app.dump() == dumped


def test_bad_dataset_is_rejected_and_leaves_the_org_alone(sandbox: Sandbox) -> None:
    sf = sandbox.app.salesforce
    keep = sf.insert("Lead", {"LastName": "Keep", "Company": "Acme"})
    for bad in ({"records": {"Lead": [{"LastName": "x"}]}},
                {"records": {"Nope": []}},
                {"schema": {"Lead": {"bad": {"type": "string"}}}}):
        with pytest.raises(ValueError):
            sandbox.app.load({"salesforce": bad})
    assert sf.get("Lead", keep) is not None


def test_python_helpers(sandbox: Sandbox) -> None:
    sf = sandbox.app.salesforce
    rid = sf.insert("Lead", {"LastName": "Doe", "Company": "Acme", "Email": "a@example.com"})
    assert sf.get("Lead", rid)["Email"] == "a@example.com"
    assert sf.get("Lead", rid)["OwnerId"] == sf.store.api_user_id   # no assignment by default
    with pytest.raises(SfError) as err:
        sf.insert("Lead", {"LastName": "x"})
    assert err.value.code == "REQUIRED_FIELD_MISSING"
    assert [r["Id"] for r in sf.records("lead")] == [rid]
    sf.delete("Lead", rid)
    assert sf.get("Lead", rid) is None and sf.records("Lead") == []


def test_server_error_class_for_5xx(sandbox: Sandbox, sf: Salesforce) -> None:
    sandbox.app.faults.configure(fail_next=["error_500"])
    with pytest.raises(SalesforceGeneralError) as err:
        sf.query("SELECT Id FROM Lead")
    assert err.value.status == 500 and err.value.content[0]["errorCode"] == "UNKNOWN_EXCEPTION"


def test_concurrent_clients_keep_the_org_consistent(sandbox: Sandbox) -> None:
    from concurrent.futures import ThreadPoolExecutor

    camp = sandbox.app.salesforce.insert("Campaign", {"Name": "Shared"})

    def worker(n: int) -> int:
        sf = Salesforce(instance_url=sandbox.url, session_id=sandbox.token,
                        session=sandbox_session(sandbox.url), version="59.0")
        made = 0
        for i in range(10):
            rid = sf.Lead.create({"LastName": f"W{n}-{i}", "Company": "Acme"})["id"]
            res = sf.restful("composite/sobjects", method="POST", json={"records": [
                {"attributes": {"type": "CampaignMember"}, "CampaignId": camp, "LeadId": rid}] * 2})
            made += sum(r["success"] for r in res)
        return made

    with ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(worker, range(4))) == 40   # the second of each pair is a duplicate
    assert len(sandbox.app.salesforce.records("CampaignMember")) == 40
    assert sandbox.app.salesforce.api_usage[0] == 80
