"""The sandbox's Event sObject (a calendar activity a rep logs on a Lead or Contact), through
simple-salesforce: a timed Event needs a length; a Lead's Events are a child relationship
(``(SELECT ... FROM Events)``); deleting the Lead deletes them, as Salesforce does."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

START = "2026-01-05T10:00:00.000+0000"


def test_a_logged_meeting_is_an_event_on_the_lead(sf):
    lead = sf.Lead.create({"LastName": "Doe", "Company": "Acme"})["id"]
    made = sf.Event.create({"WhoId": lead, "Subject": "Call", "StartDateTime": START,
                            "DurationInMinutes": 30})
    assert made["success"] and made["id"].startswith("00U")
    row = sf.query(f"SELECT Id, (SELECT Id, CreatedDate, ActivityDateTime, DurationInMinutes "
                   f"FROM Events) FROM Lead WHERE Id = '{lead}'")["records"][0]
    (event,) = row["Events"]["records"]
    assert event["DurationInMinutes"] == 30 and event["ActivityDateTime"].startswith("2026-01-05T10:00")
    assert event["CreatedDate"]
    sf.Lead.delete(lead)
    assert sf.query("SELECT Id FROM Event")["totalSize"] == 0


def test_a_timed_event_without_a_length_is_refused(sf):
    lead = sf.Lead.create({"LastName": "Doe", "Company": "Acme"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Event.create({"WhoId": lead, "Subject": "Call", "StartDateTime": START})
    (error,) = refused.value.content
    assert error["errorCode"] == "REQUIRED_FIELD_MISSING" and error["fields"] == ["DurationInMinutes"]
    allday = sf.Event.create({"WhoId": lead, "Subject": "Offsite", "IsAllDayEvent": True,
                              "ActivityDate": "2026-01-05"})
    assert allday["success"]
