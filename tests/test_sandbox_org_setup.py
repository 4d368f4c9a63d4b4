"""The sandbox org's setup for mappings, routing and account matching (issue 7), over the wire.

Queues and users as owners, the follow-up Task, State and Country/Territory Picklists,
picklist restrictions, Account Website matching and describes, each driven through
simple-salesforce as the connector drives it; assertions name Salesforce's own errorCodes,
messages and describe keys.
"""

from __future__ import annotations

import base64

import pytest
import requests
from simple_salesforce import Salesforce, SalesforceMalformedRequest, format_soql

from conftest import sandbox_session
from connector.sandbox import Sandbox
from connector.sandbox.sf_store import API_USER_ID, QUEUE_USER_ID

V = "/services/data/v59.0"
COUNTRY_PROBLEM = ("There's a problem with this country, even though it may appear correct. "
                   "Please select a country/territory from the list of valid countries.")
STATE_PROBLEM = ("There's a problem with this state, even though it may appear correct. "
                 "Please select a state from the list of valid states.")


def client(sb: Sandbox) -> Salesforce:
    return Salesforce(instance_url=sb.url, session_id=sb.token, session=sandbox_session(sb.url),
                      version="59.0")


def error_of(call, *args, **kw) -> dict:
    with pytest.raises(SalesforceMalformedRequest) as err:
        call(*args, **kw)
    return err.value.content[0]


def lead(sf: Salesforce, **fields: object) -> str:
    return sf.Lead.create({"LastName": "Doe", "Company": "Acme", **fields},
                          headers={"Sforce-Auto-Assign": "FALSE"})["id"]


def picklist(field: dict) -> dict[str, str]:
    return {p["value"]: p["label"] for p in field["picklistValues"]}


# -- queues and users as owners ------------------------------------------------------------

def test_queues_are_groups_queryable_by_developer_name(sf: Salesforce, sandbox: Sandbox) -> None:
    api = sandbox.app.salesforce
    emea = api.add_queue("EMEA Inbound", developer_name="EMEA_Inbound", email="emea@x.com")
    us = api.add_queue("US Inbound")
    assert emea.startswith("00G") and len(emea) == 18
    res = sf.query(format_soql("SELECT Id, DeveloperName, Name, Email FROM Group WHERE "
                               "Type = 'Queue' AND DeveloperName IN {}",
                               ["EMEA_Inbound", "US_Inbound", "Nope"]))
    got = {r["DeveloperName"]: (r["Id"], r["Name"]) for r in res["records"]}
    assert got == {"EMEA_Inbound": (emea, "EMEA Inbound"), "US_Inbound": (us, "US Inbound")}
    qs = sf.query(format_soql("SELECT SobjectType FROM QueueSobject WHERE QueueId = {}", emea))
    assert [r["SobjectType"] for r in qs["records"]] == ["Lead"]
    err = error_of(sf.Group.create, {"Name": "Other", "DeveloperName": "emea_inbound",
                                     "Type": "Queue"})
    assert err["errorCode"] == "DUPLICATE_VALUE"


def test_lead_owner_may_be_a_user_or_a_lead_queue(sf: Salesforce, sandbox: Sandbox) -> None:
    api = sandbox.app.salesforce
    queue = api.add_queue("Lead Triage")
    rep = api.add_user("Rep", first_name="Rita")
    rid = lead(sf, OwnerId=queue)
    assert sf.Lead.get(rid)["OwnerId"] == queue
    sf.Lead.update(rid, {"OwnerId": rep}, headers={"Sforce-Auto-Assign": "FALSE"})
    assert sf.Lead.get(rid)["OwnerId"] == rep
    owned = sf.query(format_soql("SELECT Id FROM Lead WHERE OwnerId = {}", rep))["records"]
    assert [r["Id"] for r in owned] == [rid]
    res = sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Lead"}, "LastName": "A", "Company": "B", "OwnerId": queue}]},
        headers={"Sforce-Auto-Assign": "FALSE"})
    assert res[0]["success"] is True
    assert sf.Lead.get(res[0]["id"])["OwnerId"] == queue


def test_queues_cannot_own_contacts_accounts_or_tasks(sf: Salesforce, sandbox: Sandbox) -> None:
    queue = sandbox.app.salesforce.add_queue("Triage")
    for sobject, body, label in (("Contact", {"LastName": "Roe"}, "Owner ID"),
                                 ("Account", {"Name": "Acme"}, "Owner ID"),
                                 ("Task", {"Subject": "Call"}, "Assigned To ID")):
        err = error_of(getattr(sf, sobject).create, {**body, "OwnerId": queue})
        assert err == {"errorCode": "FIELD_INTEGRITY_EXCEPTION", "fields": ["OwnerId"],
                       "message": f"{label}: id value of incorrect type: {queue}"}, sobject
    describe = {f["name"]: f for f in sf.Task.describe()["fields"]}
    assert describe["OwnerId"]["referenceTo"] == ["Group", "User"]
    contact = {f["name"]: f for f in sf.Contact.describe()["fields"]}
    assert contact["OwnerId"]["referenceTo"] == ["User"]


def test_a_queue_owns_only_the_objects_it_is_set_up_for(sf: Salesforce, sandbox: Sandbox) -> None:
    group = sf.Group.create({"Name": "Marketing", "Type": "Regular"})["id"]
    assert sf.Group.get(group)["DeveloperName"] == "Marketing"   # derived from the Name
    err = error_of(lead, sf, OwnerId=group)
    assert err["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    cases = sf.Group.create({"Name": "Cases only", "Type": "Queue"})["id"]
    sf.QueueSobject.create({"QueueId": cases, "SobjectType": "Case"})
    assert error_of(lead, sf, OwnerId=cases)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    sf.QueueSobject.create({"QueueId": cases, "SobjectType": "Lead"})
    assert sf.Lead.get(lead(sf, OwnerId=cases))["OwnerId"] == cases
    err = error_of(sf.QueueSobject.create, {"QueueId": cases, "SobjectType": "Task"})
    assert err["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    err = error_of(sf.QueueSobject.create, {"QueueId": cases, "SobjectType": "Lead"})
    assert err["errorCode"] == "DUPLICATE_VALUE"


def test_owner_must_exist_and_be_active(sf: Salesforce, sandbox: Sandbox) -> None:
    gone = sandbox.app.salesforce.add_user("Left", active=False)
    err = error_of(lead, sf, OwnerId=gone)
    assert err == {"errorCode": "INACTIVE_OWNER_OR_USER", "fields": [],
                   "message": f"operation performed with inactive user [{gone}] as owner of lead"}
    err = error_of(sf.Contact.create, {"LastName": "Roe", "OwnerId": gone})
    assert err["message"].endswith("as owner of contact")
    err = error_of(lead, sf, OwnerId="0058c0000009999")
    assert (err["errorCode"], err["fields"]) == ("INVALID_CROSS_REFERENCE_KEY", ["OwnerId"])
    err = error_of(lead, sf, OwnerId="00G8c0000009999")
    assert err["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"


def test_dataset_users_queues_and_assignment_to_a_queue(sandbox: Sandbox) -> None:
    resp = requests.post(sandbox.url + "/_sandbox/load", timeout=5,
                         headers={"Authorization": f"Bearer {sandbox.token}"},
                         json={"salesforce": {
                             "users": [{"FirstName": "Sam", "LastName": "Seller"},
                                       {"LastName": "Gone", "IsActive": False,
                                        "Id": "0058c00000000ZZ"}],
                             "queues": [{"Name": "SDR Queue", "DeveloperName": "SDR",
                                         "Id": "00G8c0000000001"}],
                             "assignment_owner_id": "00G8c0000000001"}})
    assert resp.status_code == 200, resp.text
    sf = client(sandbox)
    users = sf.query("SELECT Id, Username, Email, IsActive FROM User ORDER BY CreatedDate")
    names = {u["Username"]: u["IsActive"] for u in users["records"]}
    assert names["sam.seller@leadsync.sandbox"] is True and names["gone@leadsync.sandbox"] is False
    assert API_USER_ID in {u["Id"] for u in users["records"]}   # the defaults are still seeded
    queue = sf.query("SELECT Id FROM Group WHERE DeveloperName = 'SDR'")["records"][0]["Id"]
    assigned = sf.Lead.create({"LastName": "x", "Company": "y"})["id"]   # assignment rules on
    assert sf.Lead.get(assigned)["OwnerId"] == queue
    dumped = sandbox.app.salesforce.dump()
    sandbox.app.reset()
    sandbox.app.salesforce.load(dumped)
    again = client(sandbox).query("SELECT Id, OwnerId FROM Lead")["records"]
    assert again == [{"attributes": again[0]["attributes"], "Id": assigned, "OwnerId": queue}]
    assert sandbox.app.salesforce.store.queue_sobjects(queue) == {"Lead"}
    bad = requests.post(sandbox.url + "/_sandbox/load", timeout=5,
                        headers={"Authorization": f"Bearer {sandbox.token}"},
                        json={"salesforce": {"queues": [{"Name": "Q", "sobjects": ["Task"]}]}})
    assert bad.status_code == 400 and "queues[0]" in bad.json()["error"]


# -- the follow-up Task --------------------------------------------------------------------

def test_task_fields_defaults_and_who_validation(sf: Salesforce, sandbox: Sandbox) -> None:
    rid = lead(sf)
    tid = sf.Task.create({"Subject": "Follow up: demo request", "WhoId": rid,
                          "ActivityDate": "2024-05-02", "ReminderDateTime": "2024-05-02T09:00:00Z",
                          "IsReminderSet": True, "Priority": "High",
                          "Description": "Form: Demo\nPage: /pricing"})["id"]
    task = sf.Task.get(tid)
    assert task["OwnerId"] == sandbox.app.salesforce.store.api_user_id   # the running user
    assert task["ReminderDateTime"] == "2024-05-02T09:00:00.000+0000"
    assert (task["IsReminderSet"], task["Status"], task["IsClosed"]) == (True, "Not Started", False)
    assert sf.Task.get(sf.Task.create({"Subject": "x"})["id"])["IsReminderSet"] is False
    rep = sandbox.app.salesforce.add_user("Rep")
    sf.Task.update(tid, {"OwnerId": rep, "Status": "Completed"})
    assert (sf.Task.get(tid)["OwnerId"], sf.Task.get(tid)["IsClosed"]) == (rep, True)
    err = error_of(sf.Task.create, {"Subject": "x", "WhoId": "00Q8c0000009999"})
    assert (err["errorCode"], err["fields"]) == ("INVALID_CROSS_REFERENCE_KEY", ["WhoId"])
    account = sf.Account.create({"Name": "Acme"})["id"]
    err = error_of(sf.Task.create, {"Subject": "x", "WhoId": account})
    assert err["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    err = error_of(sf.Task.create, {"Subject": "x", "Status": "Open"})
    assert err == {"errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "fields": ["Status"],
                   "message": "Status: bad value for restricted picklist field: Open"}
    fields = {f["name"]: f for f in sf.Task.describe()["fields"]}
    assert fields["ReminderDateTime"]["type"] == "datetime"
    assert fields["IsReminderSet"]["type"] == "boolean"
    assert fields["Leadsync_Response_Id__c"]["externalId"] is True


def test_task_upsert_by_response_id_single_and_collections(sf: Salesforce) -> None:
    who = lead(sf)
    assert sf.Task.upsert("Leadsync_Response_Id__c/r-1", {"Subject": "Call", "WhoId": who}) == 201
    assert sf.Task.upsert("Leadsync_Response_Id__c/r-1", {"Subject": "Call back"}) == 200
    rows = sf.query("SELECT Id, Subject, WhoId FROM Task")["records"]
    assert [(r["Subject"], r["WhoId"]) for r in rows] == [("Call back", who)]
    records = [{"attributes": {"type": "Task"}, "Leadsync_Response_Id__c": f"r-{i}",
                "Subject": f"Task {i}", "WhoId": who} for i in (1, 2)]
    res = sf.restful("composite/sobjects/Task/Leadsync_Response_Id__c", method="PATCH",
                     json={"allOrNone": False, "records": records})
    assert [(r["success"], r["created"]) for r in res] == [(True, False), (True, True)]
    created = sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Task"}, "Subject": "Plain", "WhoId": who},
        {"attributes": {"type": "Task"}, "Subject": "Bad", "WhoId": "00Q8c0000009999"}]})
    assert created[0]["success"] is True
    assert created[1]["errors"][0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert sf.query("SELECT COUNT() FROM Task")["totalSize"] == 3


# -- State and Country/Territory Picklists ---------------------------------------------------

def test_picklists_are_off_by_default_and_text_is_free(sf: Salesforce) -> None:
    names = {f["name"] for f in sf.Lead.describe()["fields"]}
    assert "CountryCode" not in names and "StateCode" not in names
    rid = lead(sf, Country="USA", State="Calif.")
    assert (sf.Lead.get(rid)["Country"], sf.Lead.get(rid)["State"]) == ("USA", "Calif.")
    assert error_of(lead, sf, CountryCode="US")["errorCode"] == "INVALID_FIELD"


def test_describe_of_code_picklists(sandbox: Sandbox) -> None:
    sandbox.app.load({"salesforce": {"settings": {"state_country_picklists": True}}})
    sf = client(sandbox)
    fields = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    country, state = fields["CountryCode"], fields["StateCode"]
    countries = picklist(country)
    assert len(countries) >= 40 and countries["US"] == "United States"
    assert {"CA", "GB", "DE", "FR", "AU", "IN", "JP", "BR", "NL"} <= set(countries)
    assert country["restrictedPicklist"] and country["type"] == "picklist"
    assert (country["controllerName"], country["dependentPicklist"]) == (None, False)
    assert (state["controllerName"], state["dependentPicklist"]) == ("CountryCode", True)
    order = [p["value"] for p in country["picklistValues"]]

    def valid_countries(entry: dict) -> set[str]:
        bits = base64.b64decode(entry["validFor"])
        return {order[i] for i in range(len(bits) * 8) if bits[i // 8] & (0x80 >> (i % 8))}

    wa = [p for p in state["picklistValues"] if p["value"] == "WA"]
    assert {(p["label"], frozenset(valid_countries(p))) for p in wa} == {
        ("Washington", frozenset({"US"})), ("Western Australia", frozenset({"AU"}))}
    assert {p["label"] for p in state["picklistValues"]} >= {"California", "Ontario",
                                                             "New South Wales"}
    assert fields["State"]["label"] == "State/Province" and fields["Country"]["type"] == "string"
    contact = {f["name"]: f for f in sf.Contact.describe()["fields"]}
    assert contact["MailingStateCode"]["controllerName"] == "MailingCountryCode"
    account = {f["name"] for f in sf.Account.describe()["fields"]}
    assert {"BillingCountryCode", "BillingStateCode"} <= account


def test_text_and_code_fill_each_other(sandbox: Sandbox) -> None:
    sandbox.app.salesforce.set_state_country_picklists(True)
    sf = client(sandbox)
    a = sf.Lead.get(lead(sf, Country="United States", State="California"))
    assert (a["Country"], a["CountryCode"], a["State"], a["StateCode"]) == (
        "United States", "US", "California", "CA")
    b = sf.Lead.get(lead(sf, CountryCode="ca", StateCode="ON"))
    assert (b["Country"], b["CountryCode"], b["State"], b["StateCode"]) == (
        "Canada", "CA", "Ontario", "ON")
    c = sf.Lead.get(lead(sf, Country="germany"))       # integration values match any case
    assert (c["Country"], c["CountryCode"], c["State"]) == ("Germany", "DE", None)
    sf.Lead.update(c["Id"], {"CountryCode": "AU", "StateCode": "WA"})
    assert sf.Lead.get(c["Id"])["State"] == "Western Australia"
    sf.Lead.update(a["Id"], {"Country": ""})           # no country: no state either
    d = sf.Lead.get(a["Id"])
    assert (d["Country"], d["CountryCode"], d["State"], d["StateCode"]) == (None,) * 4
    cid = sf.Contact.create({"LastName": "Roe", "MailingCountry": "Australia",
                             "MailingState": "Victoria"})["id"]
    assert sf.Contact.get(cid)["MailingStateCode"] == "VIC"
    acc = sf.Account.create({"Name": "Acme", "BillingCountryCode": "GB"})["id"]
    assert sf.Account.get(acc)["BillingCountry"] == "United Kingdom"
    res = sf.query("SELECT Id FROM Lead WHERE CountryCode = 'CA' AND StateCode = 'ON'")
    assert [r["Id"] for r in res["records"]] == [b["Id"]]


def test_values_outside_the_picklists_are_refused(sandbox: Sandbox) -> None:
    sandbox.app.load({"salesforce": {"settings": {"state_country_picklists": True}}})
    sf = client(sandbox)
    cases = [
        ({"Country": "USA"}, "FIELD_INTEGRITY_EXCEPTION", ["Country"], f"{COUNTRY_PROBLEM}: Country"),
        ({"Country": "US"}, "FIELD_INTEGRITY_EXCEPTION", ["Country"], f"{COUNTRY_PROBLEM}: Country"),
        ({"CountryCode": "XX"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["CountryCode"],
         "Country Code: bad value for restricted picklist field: XX"),
        ({"Country": "Canada", "CountryCode": "US"}, "FIELD_INTEGRITY_EXCEPTION", ["Country"],
         f"{COUNTRY_PROBLEM}: Country"),
        ({"Country": "United States", "State": "Calif."}, "FIELD_INTEGRITY_EXCEPTION",
         ["State"], f"{STATE_PROBLEM}: State/Province"),
        ({"Country": "Germany", "State": "Bavaria"}, "FIELD_INTEGRITY_EXCEPTION", ["State"],
         f"{STATE_PROBLEM}: State/Province"),
        ({"State": "California"}, "FIELD_INTEGRITY_EXCEPTION", ["State"],
         "A country/territory must be specified before specifying a state value for field: "
         "State/Province"),
        ({"CountryCode": "CA", "StateCode": "CA"}, "FIELD_INTEGRITY_EXCEPTION", ["StateCode"],
         "The StateCode field contains CA, which isn't an available state. Your administrator "
         "can add it for you."),
    ]
    for body, code, fields, message in cases:
        assert error_of(lead, sf, **body) == {"errorCode": code, "fields": fields,
                                              "message": message}, body
    err = error_of(sf.Contact.create, {"LastName": "Roe", "MailingCountry": "Untied States"})
    assert err["message"] == f"{COUNTRY_PROBLEM}: Mailing Country"
    rid = lead(sf, CountryCode="US", StateCode="WA")
    err = error_of(sf.Lead.update, rid, {"CountryCode": "CA"})   # Washington is not in Canada
    assert err["fields"] == ["State"] and sf.Lead.get(rid)["CountryCode"] == "US"
    res = sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Lead"}, "LastName": "x", "Company": "y", "Country": "England"}]})
    assert res[0]["errors"] == [{"statusCode": "FIELD_INTEGRITY_EXCEPTION", "fields": ["Country"],
                                 "message": f"{COUNTRY_PROBLEM}: Country"}]


def test_turning_picklists_on_fills_codes_of_existing_records(sandbox: Sandbox) -> None:
    api = sandbox.app.salesforce
    good = api.insert("Lead", {"LastName": "a", "Company": "b", "Country": "united states",
                               "State": "New York"})
    odd = api.insert("Lead", {"LastName": "a", "Company": "b", "Country": "U.S."})
    api.set_state_country_picklists(True)
    assert (api.get("Lead", good)["CountryCode"], api.get("Lead", good)["StateCode"]) == ("US", "NY")
    assert api.get("Lead", odd)["CountryCode"] is None and api.get("Lead", odd)["Country"] == "U.S."
    assert api.dump()["settings"] == {"state_country_picklists": True}
    api.set_state_country_picklists(False)
    assert "CountryCode" not in api.get("Lead", good)


# -- picklist restrictions -------------------------------------------------------------------

def test_lead_status_is_restricted_other_standard_picklists_are_not(sf: Salesforce) -> None:
    fields = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    flags = {n: fields[n]["restrictedPicklist"] for n in
             ("Status", "LeadSource", "Industry", "Rating", "Salutation")}
    assert flags == {"Status": True, "LeadSource": False, "Industry": False, "Rating": False,
                     "Salutation": False}
    assert all(fields[n]["picklistValues"] for n in flags)
    err = error_of(lead, sf, Status="Nurture")
    assert err == {"errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "fields": ["Status"],
                   "message": "Lead Status: bad value for restricted picklist field: Nurture"}
    rid = lead(sf, Status="working - contacted", LeadSource="Webinar", Rating="Unrated")
    got = sf.Lead.get(rid)
    assert (got["Status"], got["LeadSource"], got["Rating"]) == (
        "Working - Contacted", "Webinar", "Unrated")


def test_dataset_sets_the_orgs_own_picklist_values(sandbox: Sandbox) -> None:
    sandbox.app.load({"salesforce": {"picklists": {"Lead": {"Status": [
        {"value": "New", "default": True}, "Nurture", "Sales Ready", "Closed - Converted"]}}}})
    sf = client(sandbox)
    status = {f["name"]: f for f in sf.Lead.describe()["fields"]}["Status"]
    assert [p["value"] for p in status["picklistValues"]] == [
        "New", "Nurture", "Sales Ready", "Closed - Converted"]
    assert status["picklistValues"][0]["defaultValue"] is True
    assert sf.Lead.get(lead(sf))["Status"] == "New"
    assert sf.Lead.get(lead(sf, Status="Sales Ready"))["Status"] == "Sales Ready"
    assert error_of(lead, sf, Status="Open - Not Contacted")["errorCode"] == (
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST")
    dumped = sandbox.app.salesforce.dump()
    assert dumped["picklists"]["Lead"]["Status"][1] == {"value": "Nurture"}
    with pytest.raises(ValueError):
        sandbox.app.load({"salesforce": {"picklists": {"Lead": {"Company": ["x"]}}}})


# -- account matching ------------------------------------------------------------------------

def test_account_website_like_queries(sf: Salesforce) -> None:
    ids = {w: sf.Account.create({"Name": w, "Website": w})["id"] for w in (
        "https://www.Acme.com/about", "acme.com", "http://globex.co.uk", "initech.io")}
    like = sf.query("SELECT Id FROM Account WHERE Website LIKE '%acme.com%' ORDER BY CreatedDate")
    assert [r["Id"] for r in like["records"]] == [ids["https://www.Acme.com/about"], ids["acme.com"]]
    domains = ["acme.com", "globex.co.uk"] + [f"other{i}.com" for i in range(60)]
    where = " OR ".join(format_soql("Website LIKE {}", f"%{d}%") for d in domains)
    res = sf.query(f"SELECT Id, Name, Website FROM Account WHERE {where} ORDER BY Name")
    assert {r["Id"] for r in res["records"]} == {ids["https://www.Acme.com/about"], ids["acme.com"],
                                                 ids["http://globex.co.uk"]}
    assert sf.query("SELECT Id FROM Account WHERE Website LIKE '%.IO'")["totalSize"] == 1


def test_contact_account_must_exist(sf: Salesforce) -> None:
    account = sf.Account.create({"Name": "Acme", "Website": "acme.com"})["id"]
    cid = sf.Contact.create({"LastName": "Roe", "AccountId": account})["id"]
    assert sf.Contact.get(cid)["AccountId"] == account
    err = error_of(sf.Contact.create, {"LastName": "Roe", "AccountId": "0018c0000009999"})
    assert (err["errorCode"], err["fields"]) == ("INVALID_CROSS_REFERENCE_KEY", ["AccountId"])
    err = error_of(sf.Contact.create, {"LastName": "Roe", "AccountId": cid})
    assert err["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


# -- describes -------------------------------------------------------------------------------

def test_describes_directly_and_in_one_composite_call(sf: Salesforce, sandbox: Sandbox) -> None:
    for name, prefix in (("Lead", "00Q"), ("Contact", "003"), ("Account", "001"), ("Task", "00T"),
                         ("Group", "00G"), ("User", "005")):
        desc = getattr(sf, name).describe()
        assert (desc["name"], desc["keyPrefix"]) == (name, prefix)
        assert {"Id", "CreatedDate"} <= {f["name"] for f in desc["fields"]}
    group = {f["name"]: f for f in sf.Group.describe()["fields"]}
    assert {"Queue", "Regular"} <= set(picklist(group["Type"]))
    assert group["DeveloperName"]["unique"] is True
    sandbox.app.counters.clear()
    res = sf.restful("composite", method="POST", json={"compositeRequest": [
        {"method": "GET", "url": f"{V}/sobjects/Lead/describe", "referenceId": "Lead"},
        {"method": "GET", "url": f"{V}/sobjects/Contact/describe", "referenceId": "Contact"},
        {"method": "GET", "url": f"{V}/sobjects/Nope/describe", "referenceId": "Nope"}]})
    parts = {p["referenceId"]: p for p in res["compositeResponse"]}
    assert parts["Lead"]["httpStatusCode"] == 200 and parts["Lead"]["body"]["name"] == "Lead"
    assert "Email" in {f["name"] for f in parts["Contact"]["body"]["fields"]}
    assert parts["Nope"]["httpStatusCode"] == 404
    assert parts["Nope"]["body"][0]["errorCode"] == "NOT_FOUND"
    assert sum(sandbox.counters.values()) >= 1
    assert QUEUE_USER_ID in {u["Id"] for u in sf.query("SELECT Id FROM User")["records"]}


def test_converting_a_queue_owned_lead_gives_the_contact_a_user_owner(sandbox: Sandbox) -> None:
    api = sandbox.app.salesforce
    queue = api.add_queue("Triage")
    rid = api.insert("Lead", {"LastName": "Doe", "Company": "Acme", "OwnerId": queue})
    result = api.convert_lead(rid)
    assert api.get("Contact", result["contactId"])["OwnerId"] == api.store.api_user_id
    assert api.get("Lead", rid)["OwnerId"] == queue


def test_setup_endpoint_adds_to_the_live_org(sandbox: Sandbox) -> None:
    sf = client(sandbox)
    kept = lead(sf, Country="Canada")
    url, auth = sandbox.url + "/_sandbox/salesforce/setup", {"Authorization": f"Bearer {sandbox.token}"}
    resp = requests.post(url, headers=auth, timeout=5, json={
        "users": [{"LastName": "Closer", "Email": "closer@x.com"}],
        "queues": [{"Name": "APAC", "DeveloperName": "APAC"}],
        "settings": {"state_country_picklists": True},
        "picklists": {"Lead": {"Status": ["Open", "Nurture"]}}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["settings"] == {"state_country_picklists": True}
    assert sf.Lead.get(kept)["CountryCode"] == "CA"                       # records kept
    assert sf.query("SELECT Id FROM User WHERE Email = 'closer@x.com'")["totalSize"] == 1
    assert sf.query("SELECT Id FROM Group WHERE DeveloperName = 'APAC'")["totalSize"] == 1
    bad = requests.post(url, headers=auth, timeout=5, json={
        "queues": [{"Name": "Q2"}, {"Name": "Dup", "DeveloperName": "APAC"}]})
    assert bad.status_code == 400 and "queues[1]" in bad.json()["error"]
    assert sf.query("SELECT Id FROM Group WHERE Name = 'Q2'")["totalSize"] == 0   # all or none
    assert requests.post(url, headers=auth, timeout=5, json={"nope": 1}).status_code == 400
