"""CampaignMemberStatus as Salesforce keeps it: per campaign, written over REST, with its rules.

docs/sandbox-org-rules.md, section 2: a campaign is created with "Sent" (default) and
"Responded" (HasResponded); labels and sort orders are unique per campaign; a campaign always
keeps a default and a responded status; the default, a status in use and the last responded
status cannot be deleted; a member's Status must be one of its campaign's.
"""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce, SalesforceMalformedRequest, format_soql

from connector.sandbox import Sandbox

STATUS_SOQL = ("SELECT Id, Label, IsDefault, HasResponded, SortOrder FROM CampaignMemberStatus "
               "WHERE CampaignId = {} ORDER BY SortOrder")


def statuses(sf: Salesforce, campaign_id: str) -> list[dict]:
    return sf.query(format_soql(STATUS_SOQL, campaign_id))["records"]


def error(excinfo: pytest.ExceptionInfo) -> tuple[str, str]:
    item = excinfo.value.content[0]
    return item["errorCode"], item["message"]


@pytest.fixture
def camp(sf: Salesforce) -> str:
    return sf.Campaign.create({"Name": "Webinar"})["id"]


def test_a_new_campaign_gets_sent_and_responded(sf: Salesforce, camp: str) -> None:
    got = [(s["Label"], s["IsDefault"], s["HasResponded"], s["SortOrder"]) for s in statuses(sf, camp)]
    assert got == [("Sent", True, False, 1), ("Responded", False, True, 2)]


def test_statuses_are_created_updated_and_deleted_over_rest(sf: Salesforce, camp: str) -> None:
    new = sf.CampaignMemberStatus.create({"CampaignId": camp, "Label": "Attended",
                                          "HasResponded": True})["id"]
    assert [s["Label"] for s in statuses(sf, camp)] == ["Sent", "Responded", "Attended"]
    assert statuses(sf, camp)[2]["SortOrder"] == 3          # next free sort order
    assert sf.CampaignMemberStatus.update(new, {"Label": "Joined live"}) == 204
    assert sf.CampaignMemberStatus.delete(new) == 204
    assert [s["Label"] for s in statuses(sf, camp)] == ["Sent", "Responded"]


def test_label_and_sort_order_are_unique_per_campaign(sf: Salesforce, camp: str) -> None:
    other = sf.Campaign.create({"Name": "Other"})["id"]
    sf.CampaignMemberStatus.create({"CampaignId": other, "Label": "Registered", "SortOrder": 5})
    sf.CampaignMemberStatus.create({"CampaignId": camp, "Label": "Registered", "SortOrder": 5})
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.CampaignMemberStatus.create({"CampaignId": camp, "Label": "registered"})
    assert error(err)[0] == "DUPLICATE_VALUE" and "Label" in error(err)[1]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.CampaignMemberStatus.create({"CampaignId": camp, "Label": "Invited", "SortOrder": 1})
    assert error(err)[0] == "DUPLICATE_VALUE" and "SortOrder" in error(err)[1]


def test_one_default_moves_and_cannot_be_switched_off(sf: Salesforce, camp: str) -> None:
    sent, responded = (s["Id"] for s in statuses(sf, camp))
    sf.CampaignMemberStatus.update(responded, {"IsDefault": True})
    assert [(s["Label"], s["IsDefault"]) for s in statuses(sf, camp)] == [
        ("Sent", False), ("Responded", True)]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.CampaignMemberStatus.update(responded, {"IsDefault": False})
    assert error(err)[0] == "FIELD_INTEGRITY_EXCEPTION"
    assert statuses(sf, camp)[1]["IsDefault"] is True


def test_a_campaign_keeps_one_responded_status(sf: Salesforce, camp: str) -> None:
    sent, responded = (s["Id"] for s in statuses(sf, camp))
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.CampaignMemberStatus.update(responded, {"HasResponded": False})
    assert error(err)[0] == "FIELD_INTEGRITY_EXCEPTION"
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.CampaignMemberStatus.delete(responded)
    assert error(err)[0] == "DELETE_FAILED"
    sf.CampaignMemberStatus.update(sent, {"HasResponded": True})
    assert sf.CampaignMemberStatus.update(responded, {"HasResponded": False}) == 204


def test_the_default_and_a_status_in_use_cannot_be_deleted(sf: Salesforce, camp: str) -> None:
    sent, responded = (s["Id"] for s in statuses(sf, camp))
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.CampaignMemberStatus.delete(sent)
    assert error(err) == ("DELETE_FAILED", "You can't delete the default member status.")
    attended = sf.CampaignMemberStatus.create({"CampaignId": camp, "Label": "Attended",
                                               "HasResponded": True})["id"]
    lead = sf.Lead.create({"LastName": "Doe", "Company": "Acme"})["id"]
    member = sf.CampaignMember.create({"CampaignId": camp, "LeadId": lead, "Status": "attended"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.CampaignMemberStatus.delete(attended)
    assert error(err)[0] == "DELETE_FAILED" and "1 campaign member" in error(err)[1]
    sf.CampaignMember.update(member, {"Status": "Sent"})
    assert sf.CampaignMemberStatus.delete(attended) == 204


def test_members_follow_their_campaign_statuses(sf: Salesforce, camp: str, sandbox: Sandbox) -> None:
    lead = sf.Lead.create({"LastName": "Doe", "Company": "Acme"})["id"]
    default = sf.CampaignMember.create({"CampaignId": camp, "LeadId": lead})["id"]
    row = sandbox.app.salesforce.get("CampaignMember", default)
    assert (row["Status"], row["HasResponded"]) == ("Sent", False)
    other = sf.Lead.create({"LastName": "Roe", "Company": "Acme"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.CampaignMember.create({"CampaignId": camp, "LeadId": other, "Status": "Attended"})
    assert err.value.content == [{"errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                  "message": "Status: bad value for restricted picklist field: "
                                             "Attended", "fields": ["Status"]}]
    responded = statuses(sf, camp)[1]["Id"]
    sf.CampaignMember.update(default, {"Status": "Responded"})
    sf.CampaignMemberStatus.update(responded, {"Label": "Replied"})
    row = sandbox.app.salesforce.get("CampaignMember", default)
    assert (row["Status"], row["HasResponded"]) == ("Replied", True)
    assert row["FirstRespondedDate"] is not None


def test_a_dataset_may_hold_any_statuses(sandbox: Sandbox, sf: Salesforce) -> None:
    camp = "7018c0000000001AAA"
    sandbox.app.load({"salesforce": {"records": {
        "Campaign": [{"Id": camp, "Name": "Old"}],
        "CampaignMemberStatus": [
            {"CampaignId": camp, "Label": "Planned", "IsDefault": True, "SortOrder": 1},
            {"CampaignId": camp, "Label": "Went", "HasResponded": True, "SortOrder": 1}]}}})
    assert [s["Label"] for s in statuses(sf, camp)] == ["Planned", "Went"]
