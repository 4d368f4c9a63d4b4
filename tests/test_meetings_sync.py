"""Meetings booked: CRM v3 meetings created since the watermark, each a sales-ready response
on its own campaign, handed off with a Task; the search's 10,000-result cap is paged past."""

from __future__ import annotations

import time
from contextlib import closing

import pytest
import requests

from connector.adapters.hubspot.meetings import MeetingsSource
from connector.adapters.hubspot.sources import HubSpotSources
from connector.adapters.sqlite.ledger import State
from connector.adapters.transport import RetryPolicy
from event_world import EventWorld
from sync_helpers import EXT, Org

KEYED = {"salesforce": {"lead_external_id_field": EXT}}
TASKS = {"routing": {"stages": {"nurture": "Open - Not Contacted", "sales_ready": "Working - Contacted"},
                     "tasks": {"sla": "4h"}}}


@pytest.fixture
def world(sandbox, tmp_path) -> EventWorld:
    w = EventWorld(Org(sandbox, tmp_path / "leadsync.db"))
    w.clock = int(time.time() * 1000) - 3_600_000     # booked within the hand-off's max age
    w.add_meetings_campaign()
    return w


def tasks(w: EventWorld) -> list[dict]:
    return w.org.sf.records("Task")


def meeting_members(w: EventWorld) -> list[dict]:
    return [m for m in w.org.members() if m["CampaignId"] == w.meetings_campaign]


@pytest.mark.parametrize("method", ["poi", "hybrid", "unique"])
def test_a_meeting_booked_hands_off_with_a_task(world, method):
    world.book_meeting("mia@example.com", firstname="Mia", lastname="Moss", company="Acme")
    report = world.sync(method, event=False, meetings=True, **TASKS, **KEYED)
    assert report.status == "ok", report.error
    [lead] = world.org.leads("mia@example.com")
    assert lead["LastName"] == "Moss"
    [member] = meeting_members(world)
    assert member["Status"] == "Meeting Booked" and member["LeadId"] == lead["Id"]
    [task] = tasks(world)
    assert task["WhoId"] == lead["Id"]
    assert world.sync(method, event=False, meetings=True, **TASKS, **KEYED).counts.get("pulled", 0) == 0
    assert len(tasks(world)) == 1 and len(world.org.leads()) == 1


def test_lost_replies_make_no_second_lead_or_task(world):
    for i in range(6):
        world.book_meeting(f"m{i}@example.com", lastname=f"M{i}")
    faults = world.org.sandbox.app.faults
    faults.configure(families=["salesforce"], fail_next=["apply_then_drop"] * 4)
    report = world.sync("hybrid", event=False, meetings=True, **TASKS)
    faults.configure(fail_next=[], apply_then_drop_rate=0)
    assert report.status == "ok", report.error
    assert faults.stats["apply_then_drop"] >= 1
    assert sorted(lead["Email"] for lead in world.org.leads()) == [f"m{i}@example.com" for i in range(6)]
    assert len(meeting_members(world)) == 6 and len(tasks(world)) == 6
    with closing(State.open(world.org.state_path)) as state:
        rows = state.rows()
    assert len(rows) == 6 and {r["status"] for r in rows} == {"applied"}
    assert {r["form_id"] for r in rows} == {"meetings"}


def test_the_search_cap_is_paged_past_by_restarting_after_the_last_id(world):
    for i in range(13):
        world.book_meeting(f"c{i}@example.com", lastname=f"C{i}")
    settings = world.settings(event=False, meetings=True)
    client = HubSpotSources(settings.hubspot, retry=RetryPolicy.fast(), streams=["meetings"])
    seen: list[dict] = []
    original = client.request

    def spy(method, path, qs=None, payload=None):
        if path.endswith("/meetings/search"):
            seen.append(payload)
        return original(method, path, qs, payload)

    client.request = spy  # type: ignore[method-assign]
    source = MeetingsSource(client, page_limit=2, result_cap=5)
    subs = [s for page in source.pages("meetings", 0) for s in page]
    assert sorted(s.values["email"] for s in subs) == sorted(f"c{i}@example.com" for i in range(13))
    assert len({s.conversion_id for s in subs}) == 13
    restarts = [p for p in seen if len(p["filterGroups"][0]["filters"]) == 2]
    assert restarts and all(p["sorts"] == [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
                            for p in seen)


def test_the_sandbox_refuses_a_page_past_ten_thousand(world):
    sb = world.org.sandbox
    reply = requests.post(f"{sb.url}/crm/v3/objects/meetings/search",
                          headers={"Authorization": f"Bearer {sb.token}"},
                          json={"after": "9950", "limit": 100, "filterGroups": [], "sorts": [],
                                "properties": []}, timeout=10)
    assert reply.status_code == 400 and reply.json()["category"] == "VALIDATION_ERROR"


def test_only_meetings_created_since_the_watermark_are_read(world):
    world.book_meeting("old@example.com", lastname="Old")
    assert world.sync("hybrid", event=False, meetings=True).status == "ok"
    world.book_meeting("new@example.com", lastname="New")
    report = world.sync("hybrid", event=False, meetings=True)
    assert report.status == "ok", report.error
    assert report.counts.get("pulled") == 1
    assert len(world.org.leads()) == 2


def test_hubspot_api_client_reads_the_sandbox_meetings_search(world):
    from hubspot.crm.objects.meetings import Filter, FilterGroup, PublicObjectSearchRequest

    ids = [world.book_meeting(f"s{i}@example.com", lastname=f"S{i}") for i in range(3)]
    search = PublicObjectSearchRequest(
        filter_groups=[FilterGroup(filters=[Filter(property_name="hs_object_id", operator="GT",
                                                   value=ids[0])])],
        sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
        properties=["hs_meeting_title"], limit=1, after="0")
    page = world.client.crm.objects.meetings.search_api.do_search(search)
    assert page.total == 2 and [r.id for r in page.results] == [ids[1]]
    assert page.results[0].properties["hs_meeting_title"] == "Demo"
    assert page.paging.next.after == "1"


def test_a_dumped_sandbox_loads_back_with_its_events_and_meetings(world):
    """``sandbox dump`` then ``load`` (an admin's saved rehearsal) keeps the marketing events,
    their participations and the meetings with their contacts: a sync after the reload
    reads the same responses."""
    world.create_event()
    world.record("registered", "pat@example.com", firstname="Pat", lastname="Lee")
    world.book_meeting("mia@example.com", firstname="Mia", lastname="Moss", company="Acme")
    app = world.org.sandbox.app
    data = app.dump()
    assert len(data["hubspot"]["marketing_events"]) == 1 and len(data["hubspot"]["meetings"]) == 1
    app.reset()
    assert "marketing_events" not in app.dump()["hubspot"]
    app.load(data)
    assert app.dump()["hubspot"] == data["hubspot"]
    report = world.sync("hybrid", event=True, meetings=True, **TASKS, **KEYED)
    assert report.status == "ok", report.error
    assert {m["Email"]: m["Status"] for m in world.members()} == {"pat@example.com": "Registered"}
    assert [m["Status"] for m in meeting_members(world)] == ["Meeting Booked"]
    next_event = world.create_event("Another webinar")              # ids go on after the load
    assert next_event not in {e["objectId"] for e in data["hubspot"]["marketing_events"]}


def test_an_app_without_the_meetings_scope_pauses_the_meetings_alone():
    """HubSpot's 403 MISSING_SCOPES for the meetings search (the reply recorded as HubSpot
    words it, docs/sandbox-wire-facts.md "Missing scopes"; the scope name is HubSpot's, read
    from the reply): the meetings stream is unreadable, named, and nothing else is raised."""
    import responses
    from connector.config.settings import settings_from_dict
    from connector.engine.pauses import unreadable_pauses

    base = "https://api.hubapi.example"
    settings = settings_from_dict({
        "method": "hybrid", "salesforce": {"instance_url": "https://x.example", "access_token": "t"},
        "hubspot": {"base_url": base, "access_token": "t"},
        "campaigns": [{"meetings": True, "campaign_id": "701000000000001AAA",
                       "member_status": "Meeting Booked"}]}, env={})
    client = HubSpotSources(settings.hubspot, retry=RetryPolicy.fast(), streams=["meetings"])
    reply = {"status": "error", "message": "This app hasn't been granted all required scopes "
             "to make this call. Read more about required scopes here: "
             "https://developers.hubspot.com/scopes.", "correlationId": "c0ffee",
             "errors": [{"message": "One or more of the following scopes are required.",
                         "context": {"requiredGranularScopes": ["some.meetings.scope"]}}],
             "links": {"scopes": "https://developers.hubspot.com/scopes"},
             "category": "MISSING_SCOPES"}
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, f"{base}/crm/v3/objects/meetings/search", json=reply, status=403)
        pages = list(client.pages_many({"meetings": 0}))
    assert pages == [] and list(client.unreadable_streams) == ["meetings"]
    [paused] = unreadable_pauses(settings, client.unreadable_streams)
    assert paused["entry"] == "campaigns[0]" and paused["form_id"] == "meetings"
    assert paused["message"].startswith("campaigns[0] (meetings booked): ")
    assert "some.meetings.scope" in paused["message"] and "403 MISSING_SCOPES" in paused["message"]


def test_without_the_contacts_read_scope_the_sandbox_refuses_the_meetings_alone(world):
    """HubSpot's public spec gives the meetings search ``crm.objects.contacts.read``: the
    sandbox answers 403 MISSING_SCOPES naming it. The meetings entry pauses, named, watermark
    kept; the forms sync; once the scope is granted the meeting is read from where it was."""
    world.org.add_forms(1)
    world.org.fill(0, "fay@example.com", lastname="Fay")
    world.book_meeting("mia@example.com", lastname="Moss")
    hubspot = world.org.sandbox.app.hubspot
    hubspot.revoke_scopes("crm.objects.contacts.read")
    report = world.sync("hybrid", forms=True, event=False, meetings=True, **TASKS)
    assert report.status == "partial", report.error
    [paused] = report.paused
    assert paused["form_id"] == "meetings" and "crm.objects.contacts.read" in paused["message"]
    assert "403 MISSING_SCOPES" in paused["message"] and "@" not in paused["message"]
    assert len(world.org.leads("fay@example.com")) == 1 and meeting_members(world) == []
    with closing(State.open(world.org.state_path)) as state:
        assert state.watermark("meetings") is None
    hubspot.grant_all_scopes()
    assert world.sync("hybrid", forms=True, event=False, meetings=True, **TASKS).status == "ok"
    assert [m["Status"] for m in meeting_members(world)] == ["Meeting Booked"]
