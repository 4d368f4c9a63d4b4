"""[[campaigns]] entries for events and meetings: the keys exactly as documented."""

from __future__ import annotations

import pytest

from connector.config.settings import settings_from_dict
from connector.config.sources import EventStatuses
from connector.errors import ConfigError

BASE = {"method": "hybrid",
        "salesforce": {"instance_url": "https://x.my.salesforce.com", "access_token": "t"},
        "hubspot": {"access_token": "t"}}
STATUSES = {"registered": "Registered", "attended": "Attended", "no_show": "No Show",
            "cancelled": "Cancelled"}


def settings(*campaigns):
    return settings_from_dict({**BASE, "campaigns": list(campaigns)}, env={})


def test_event_entry_is_the_event_stream_with_its_statuses():
    s = settings({"event_id": "580000001", "campaign_id": "701000000000001AAA",
                  "statuses": {**STATUSES, "no_show": "Did not attend"}})
    [c] = s.campaigns
    assert (c.stream, c.source, c.event_id) == ("event:580000001", "event", "580000001")
    assert c.statuses == EventStatuses(no_show="Did not attend")
    assert s.campaign_for("event:580000001") is c


def test_meetings_entry_and_form_entry_side_by_side():
    s = settings({"form_id": "f-1", "campaign_id": "701A"},
                 {"meetings": True, "campaign_id": "701B", "member_status": "Meeting Booked"})
    assert [(c.stream, c.source, c.member_status) for c in s.campaigns] == [
        ("f-1", "form", "Responded"), ("meetings", "meetings", "Meeting Booked")]


@pytest.mark.parametrize("entry,key", [
    ({"form_id": "f", "event_id": "1", "campaign_id": "701A"}, "campaigns[0].event_id"),
    ({"event_id": "1", "campaign_id": "701A", "member_status": "Registered"},
     "campaigns[0].member_status"),
    ({"form_id": "f", "campaign_id": "701A", "statuses": STATUSES}, "campaigns[0].statuses"),
    ({"event_id": "1", "campaign_id": "701A", "statuses": {"attendee": "A"}},
     "campaigns[0].statuses.attendee"),
    ({"meetings": False, "campaign_id": "701A"}, "campaigns[0].meetings"),
    ({"event_id": "1"}, "campaigns[0].campaign_id"),
    ({"form_id": "event:1", "campaign_id": "701A"}, "campaigns[0].form_id"),
])
def test_mistakes_name_their_key(entry, key):
    with pytest.raises(ConfigError) as err:
        settings(entry)
    assert err.value.key == key


def test_an_event_mapped_twice_is_refused():
    entry = {"event_id": "1", "campaign_id": "701A"}
    with pytest.raises(ConfigError) as err:
        settings(entry, dict(entry))
    assert err.value.key == "campaigns[1].event_id"
