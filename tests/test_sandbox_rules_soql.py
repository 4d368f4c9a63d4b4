"""SOQL across objects: parent fields, child subqueries, GROUP BY with aggregates.

docs/sandbox-org-rules.md, section 8. Shapes follow the REST guide: a parent is a nested
record with its own attributes (null when the lookup is empty), a subquery is
{"totalSize", "done", "records"} (null without children), aggregate rows have
attributes.type "AggregateResult" and unaliased aggregates are expr0, expr1, ...
"""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce, SalesforceMalformedRequest

from connector.sandbox import Sandbox

V = "/services/data/v59.0"


@pytest.fixture
def org(sf: Salesforce) -> dict[str, str]:
    ids = {"web": sf.Campaign.create({"Name": "Webinar"})["id"],
           "empty": sf.Campaign.create({"Name": "Empty"})["id"],
           "pat": sf.Lead.create({"LastName": "Doe", "Company": "Acme", "Email": "pat@acme.com"})["id"],
           "sam": sf.Lead.create({"LastName": "Roe", "Company": "Acme", "Email": "sam@acme.com"})["id"],
           "acct": sf.Account.create({"Name": "Globex"})["id"]}
    ids["kim"] = sf.Contact.create({"LastName": "Kim", "AccountId": ids["acct"], "Email": "kim@globex.com"})["id"]
    ids["m1"] = sf.CampaignMember.create({"CampaignId": ids["web"], "LeadId": ids["pat"]})["id"]
    ids["m2"] = sf.CampaignMember.create({"CampaignId": ids["web"], "LeadId": ids["sam"],
                                          "Status": "Responded"})["id"]
    ids["m3"] = sf.CampaignMember.create({"CampaignId": ids["web"], "ContactId": ids["kim"]})["id"]
    return ids


def test_parent_fields_nest_with_their_attributes(sf: Salesforce, org: dict[str, str]) -> None:
    res = sf.query("SELECT Id, Campaign.Name, Lead.Email, Contact.Account.Name, Status "
                   "FROM CampaignMember ORDER BY Lead.Email NULLS LAST")
    first, second, third = res["records"]
    assert list(first) == ["attributes", "Id", "Campaign", "Lead", "Contact", "Status"]
    assert first["Campaign"] == {"attributes": {"type": "Campaign",
                                                "url": f"{V}/sobjects/Campaign/{org['web']}"},
                                 "Name": "Webinar"}
    assert first["Lead"]["Email"] == "pat@acme.com" and second["Lead"]["Email"] == "sam@acme.com"
    assert first["Contact"] is None                  # an empty lookup is null
    assert third["Lead"] is None
    assert third["Contact"]["Account"] == {"attributes": {"type": "Account",
                                                          "url": f"{V}/sobjects/Account/{org['acct']}"},
                                           "Name": "Globex"}


def test_owner_is_a_polymorphic_name_record(sf: Salesforce, org: dict[str, str], sandbox: Sandbox) -> None:
    rec = sf.query(f"SELECT Owner.Name, Owner.Type FROM Lead WHERE Id = '{org['pat']}'")["records"][0]
    owner = sandbox.app.salesforce.get("Lead", org["pat"])["OwnerId"]
    assert rec["Owner"]["attributes"] == {"type": "Name", "url": f"{V}/sobjects/User/{owner}"}
    assert rec["Owner"]["Name"] == sandbox.app.salesforce.get("User", owner)["Name"]
    assert rec["Owner"]["Type"] == "User"
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query("SELECT Owner.Company FROM Lead")
    assert err.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_parent_fields_filter_and_count(sf: Salesforce, org: dict[str, str]) -> None:
    res = sf.query("SELECT Id FROM CampaignMember WHERE Campaign.Name = 'webinar' AND Lead.Email LIKE 'sam%'")
    assert [r["Id"] for r in res["records"]] == [org["m2"]]
    assert sf.query("SELECT COUNT() FROM CampaignMember WHERE Campaign.Name = 'Webinar'")["totalSize"] == 3
    assert sf.query("SELECT Lead.Email FROM Lead WHERE Id = '%s'" % org["pat"])["records"][0]["Email"] == "pat@acme.com"


def test_child_subqueries_nest_records_or_null(sf: Salesforce, org: dict[str, str]) -> None:
    res = sf.query("SELECT Id, Name, (SELECT Id, Status FROM CampaignMembers WHERE Status = 'Sent' "
                   "ORDER BY CreatedDate) FROM Campaign ORDER BY Name")
    empty, web = res["records"]
    assert empty["Name"] == "Empty" and empty["CampaignMembers"] is None
    members = web["CampaignMembers"]
    assert set(members) == {"totalSize", "done", "records"} and members["done"] is True
    assert members["totalSize"] == 2
    assert [m["Id"] for m in members["records"]] == [org["m1"], org["m3"]]
    assert members["records"][0]["attributes"]["type"] == "CampaignMember"
    accounts = sf.query("SELECT Name, (SELECT LastName, Email FROM Contacts) FROM Account")["records"]
    assert accounts[0]["Contacts"]["records"][0]["Email"] == "kim@globex.com"
    lead = sf.query(f"SELECT Id, (SELECT Campaign.Name FROM CampaignMembers) FROM Lead WHERE Id = '{org['pat']}'")
    assert lead["records"][0]["CampaignMembers"]["records"][0]["Campaign"]["Name"] == "Webinar"


def test_children_count_toward_the_page(sf: Salesforce, sandbox: Sandbox) -> None:
    sfa = sandbox.app.salesforce
    camps = [sfa.insert("Campaign", {"Name": f"C{i:02d}"}) for i in range(30)]
    for c in camps:
        for j in range(9):
            lead = sfa.insert("Lead", {"LastName": f"L{j}", "Company": "x"})
            sfa.insert("CampaignMember", {"CampaignId": c, "LeadId": lead})
    first = sf.query("SELECT Id, (SELECT Id FROM CampaignMembers) FROM Campaign ORDER BY Name",
                     headers={"Sforce-Query-Options": "batchSize=200"})
    assert len(first["records"]) == 20 and first["done"] is False   # 20 x (1 + 9) = 200
    everything = sf.query_all("SELECT Id, (SELECT Id FROM CampaignMembers) FROM Campaign ORDER BY Name")
    assert len(everything["records"]) == 30


def test_group_by_with_counts_aliases_and_order(sf: Salesforce, org: dict[str, str]) -> None:
    res = sf.query("SELECT Status, COUNT(Id) FROM CampaignMember GROUP BY Status ORDER BY COUNT(Id) DESC")
    assert res == {"totalSize": 2, "done": True, "records": [
        {"attributes": {"type": "AggregateResult"}, "Status": "Sent", "expr0": 2},
        {"attributes": {"type": "AggregateResult"}, "Status": "Responded", "expr0": 1}]}
    res = sf.query("SELECT Campaign.Name campaign, COUNT(Id) members, COUNT(LeadId), "
                   "COUNT_DISTINCT(Status), MAX(Lead.Email) FROM CampaignMember GROUP BY Campaign.Name")
    assert res["records"] == [{"attributes": {"type": "AggregateResult"}, "campaign": "Webinar",
                               "members": 3, "expr0": 2, "expr1": 2, "expr2": "sam@acme.com"}]
    res = sf.query("SELECT Campaign.Name, COUNT(Id) FROM CampaignMember GROUP BY Campaign.Name")
    assert list(res["records"][0]) == ["attributes", "Name", "expr0"]


def test_aggregates_without_group_by_and_numbers(sf: Salesforce, sandbox: Sandbox) -> None:
    sfa = sandbox.app.salesforce
    for n in (10, 20, None):
        sfa.insert("Lead", {"LastName": "x", "Company": "y", "NumberOfEmployees": n, "Industry": "Banking"})
    row = sf.query("SELECT COUNT(Id), SUM(NumberOfEmployees) total, AVG(NumberOfEmployees), "
                   "MIN(NumberOfEmployees) FROM Lead")["records"][0]
    assert row == {"attributes": {"type": "AggregateResult"}, "expr0": 3, "total": 30,
                   "expr1": 15.0, "expr2": 10}
    none = sf.query("SELECT COUNT(Id), MAX(NumberOfEmployees) FROM Lead WHERE Company = 'nobody'")
    assert none["records"] == [{"attributes": {"type": "AggregateResult"}, "expr0": 0, "expr1": None}]
    grouped = sf.query("SELECT Industry, COUNT(Id) FROM Lead GROUP BY Industry LIMIT 5")
    assert grouped["totalSize"] == 1 and grouped["records"][0]["Industry"] == "Banking"


@pytest.mark.parametrize("query, code, words", [
    ("SELECT Status, Email, COUNT(Id) FROM CampaignMember GROUP BY Status", "MALFORMED_QUERY",
     "Field must be grouped or aggregated: Email"),
    ("SELECT SUM(Email) FROM Lead", "INVALID_FIELD", "does not support aggregate operator SUM"),
    ("SELECT Id, Nope.Name FROM Lead", "INVALID_FIELD", "Didn't understand relationship 'Nope'"),
    ("SELECT Id, (SELECT Id FROM Nopes) FROM Campaign", "INVALID_TYPE", "Didn't understand relationship 'Nopes'"),
    ("SELECT Id, Campaign.Nope FROM CampaignMember", "INVALID_FIELD", "No such column 'Nope'"),
    ("SELECT Status, COUNT(Id) FROM CampaignMember GROUP BY Status HAVING COUNT(Id) > 1",
     "MALFORMED_QUERY", "HAVING"),
])
def test_errors_in_salesforces_words(sf: Salesforce, org: dict[str, str], query: str, code: str,
                                     words: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query(query)
    assert err.value.content[0]["errorCode"] == code and words in err.value.content[0]["message"]


def test_describe_lists_child_relationships(sf: Salesforce) -> None:
    rels = {r["relationshipName"]: r for r in sf.Campaign.describe()["childRelationships"]}
    assert rels["CampaignMembers"]["childSObject"] == "CampaignMember"
    assert rels["CampaignMembers"]["field"] == "CampaignId"
