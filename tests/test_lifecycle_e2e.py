"""The lifecycle pass against the sandbox with the real clients: the SLA is 2h and the pass's
"now" is walked forward (the sandbox's Salesforce stamps records with the real clock, so a
Task logged "now" is a touch after the hand-off)."""

from __future__ import annotations

import pytest

from connector.adapters.sqlite.ledger import State
from connector.adapters.sqlite.lifecycle import LifecycleStore
from lifecycle_world import DATE, DAY, HOUR, REASON, World, make_world, now


@pytest.fixture
def world(sandbox, tmp_path) -> World:
    return make_world(sandbox, tmp_path)


def owners(world: World, lead_id: str) -> tuple[str, set[str]]:
    return world.lead(lead_id)["OwnerId"], {t["OwnerId"] for t in world.tasks(lead_id)}


def test_within_the_sla_nothing_happens(world):
    lead = world.hand_off("pat@corp.com")
    report = world.run(now() + HOUR)
    assert report.counts == {"leave": 1} and report.taken_in == 1
    assert world.lead(lead)["OwnerId"] == world.users["ade"]


def test_a_breach_reassigns_once_per_breach_through_the_pool_then_escalates(world):
    lead = world.hand_off("pat@corp.com")
    u = world.users
    t = now()
    first = world.run(t + 3 * HOUR)
    assert first.counts == {"reassign": 1}
    assert "breach: 3h without a touch; from Ade to Bea, 1st reassignment" in first.actions[0].reason
    assert owners(world, lead) == (u["bea"], {u["bea"]})        # the Task moved with the Lead
    # the clock restarted at the reassignment: an hour later is within the SLA again
    assert world.run(t + 4 * HOUR).counts == {"leave": 1}
    second = world.run(t + 5 * HOUR + 60_000)
    assert second.counts == {"reassign": 1} and "to Cy, 2nd reassignment" in second.actions[0].reason
    assert owners(world, lead) == (u["cy"], {u["cy"]})
    third = world.run(t + 8 * HOUR)
    assert third.counts == {"escalate": 1} and "escalated to Max" in third.actions[0].reason
    escalations = [x for x in world.tasks(lead) if x["OwnerId"] == u["max"]]
    assert len(escalations) == 1 and escalations[0]["Subject"].startswith("SLA breach")
    # escalated: no longer timed (only read for a rep's recycling); a rerun changes nothing
    before = world.sf.records("Task"), world.lead(lead)
    assert world.run(t + 30 * HOUR).counts == {"leave": 1}
    assert (world.sf.records("Task"), world.lead(lead)) == before


def test_the_rotation_is_kept_across_passes(world):
    a = world.hand_off("a@corp.com")
    t = now()
    world.run(t + 3 * HOUR)
    b = world.hand_off("b@corp.com")
    world.run(now() + 3 * HOUR)     # b breaches; the pool's next member after Bea is Cy
    assert world.lead(a)["OwnerId"] == world.users["bea"]
    assert world.lead(b)["OwnerId"] == world.users["cy"]


def test_inactive_pool_member_is_skipped_and_named(world):
    world.sf.update("User", world.users["bea"], {"IsActive": False})
    lead = world.hand_off("pat@corp.com")
    report = world.run(now() + 3 * HOUR)
    assert any("bea@acme.example is inactive" in str(p) for p in report.problems)
    assert world.lead(lead)["OwnerId"] == world.users["cy"]


@pytest.mark.parametrize("touch", ["status", "task", "activity", "meeting"])
def test_a_touched_lead_is_left_alone(world, touch):
    lead = world.hand_off("pat@corp.com")
    task = world.tasks(lead)[0]
    if touch == "status":
        world.sf.update("Lead", lead, {"Status": "Working - Contacted"})
    elif touch == "task":
        world.sf.update("Task", task["Id"], {"Status": "Completed"})
    elif touch == "activity":
        world.sf.insert("Task", {"WhoId": lead, "Subject": "Call", "Status": "Completed",
                                 "OwnerId": world.users["ade"]})
    else:                                   # a meeting in the rep's calendar: an Event
        world.sf.insert("Event", {"WhoId": lead, "Subject": "Intro call", "DurationInMinutes": 30,
                                  "StartDateTime": "2031-01-06T10:00:00.000+0000",
                                  "OwnerId": world.users["ade"]})
    report = world.run(now() + 3 * HOUR)
    assert report.counts == {"touched": 1}
    assert world.lead(lead)["OwnerId"] == world.users["ade"]
    assert world.run(now() + 9 * HOUR).counts == {"leave": 1}   # watched for recycling only


def test_a_recycled_lead_goes_to_marketing_and_comes_back_on_its_date(world):
    lead = world.hand_off("pat@corp.com")
    world.sf.update("Lead", lead, {"Status": "Recycled", REASON: "No budget this quarter",
                                   DATE: "2031-03-02"})
    report = world.run(now() + HOUR)
    assert report.counts == {"recycle": 1}
    assert "(No budget this quarter)" in report.actions[0].reason
    got = world.lead(lead)
    assert got["OwnerId"] == world.queue and got["Status"] == "Open - Not Contacted"
    on_date = 1930176000000 + 12 * HOUR     # 2031-03-02 12:00 UTC
    assert world.run(on_date - DAY).counts == {}                 # not due: not even read
    back = world.run(on_date)
    assert back.counts == {"come_back": 1} and "stays in nurture" in back.actions[0].reason
    assert world.lead(lead)["OwnerId"] == world.users["ade"]      # routed again: default owner
    assert world.run(on_date + DAY).counts == {"leave": 1}     # back in nurture: read, untouched


def test_a_recycled_lead_made_sales_ready_meanwhile_is_handed_off_again(world):
    lead = world.hand_off("pat@corp.com")
    world.sf.update("Lead", lead, {"Status": "Recycled"})          # no date: the default delay
    t = now()
    world.run(t)
    world.fill(0, "pat@corp.com", lastname="Doe")                  # a nurture-form response
    world.sync("hybrid", routing=world.routing())
    tasks_before = len(world.tasks(lead))
    # the ledger knows the response's form; make form 0 sales-ready for the come-back
    routing = world.routing()
    routing["stages"]["sales_ready_forms"] = world.forms
    settings = world.settings("hybrid", routing=routing, lifecycle=world.lifecycle_table())
    back = world.run(t + 31 * DAY, settings=settings)
    assert back.counts == {"come_back": 1} and "with a new Task" in back.actions[0].reason
    assert world.lead(lead)["Status"] == "Sales Ready"
    assert len(world.tasks(lead)) == tasks_before + 1
    watch = LifecycleStore(State.open(world.state_path).db).watch(lead)
    assert watch is not None and watch.state.value == "open" and watch.task_id


def test_a_missing_recycle_date_field_is_named_not_fatal(world):
    settings = world.config(recycle_date_field="No_Such_Date__c")
    lead = world.hand_off("pat@corp.com")
    world.sf.update("Lead", lead, {"Status": "Recycled"})
    report = world.run(now(), settings=settings)
    assert any(p.key == "lifecycle.recycle_date_field" for p in report.problems)
    assert report.counts == {"recycle": 1} and "after 30d" in report.actions[0].reason


def test_dry_run_lists_actions_and_writes_nothing(world):
    lead = world.hand_off("pat@corp.com")
    report = world.run(now() + 3 * HOUR, dry_run=True)
    assert report.counts == {"reassign": 1}
    assert world.lead(lead)["OwnerId"] == world.users["ade"]
    assert LifecycleStore(State.open(world.state_path).db).all_watches() == []
    assert world.run(now() + 3 * HOUR).counts == {"reassign": 1}   # the real pass still does it


def test_the_write_back_tells_hubspot_recycled_then_nurture_and_does_not_flip(world):
    """A recycled Lead carries the nurture status, yet the write-back step (which reads every
    person's record each cycle) must say ``recycled`` until the come-back date, send nothing
    more while that holds, and ``nurture`` once it came back not sales-ready."""
    from test_writeback import contact, create_properties, writeback_run

    create_properties(world)
    settings = world.settings("hybrid", routing=world.routing(), lifecycle=world.lifecycle_table(),
                              writeback={})
    lead = world.hand_off("pat@corp.com")
    assert writeback_run(world, settings).counts.sent == 1
    assert contact(world, "pat@corp.com")["leadsync_stage"] == "sales_ready"
    world.sf.update("Lead", lead, {"Status": "Recycled"})
    assert world.run(now(), settings=settings).counts == {"recycle": 1}
    assert world.lead(lead)["Status"] == "Open - Not Contacted"       # the nurture status
    assert writeback_run(world, settings).counts.sent == 1
    props = contact(world, "pat@corp.com")
    assert (props["leadsync_stage"], props["leadsync_lead_status"]) == ("recycled", "Open - Not Contacted")
    again = writeback_run(world, settings)
    assert (again.counts.sent, again.counts.unchanged) == (0, 1)      # no flip to nurture
    came = world.run(now() + 31 * DAY, settings=settings)
    assert came.counts.get("come_back") == 1, came.counts
    assert writeback_run(world, settings).counts.sent == 1
    assert contact(world, "pat@corp.com")["leadsync_stage"] == "nurture"


def test_the_pass_stops_at_the_api_budget_share(world):
    lead = world.hand_off("pat@corp.com")
    world.sf.set_api_limit(100, used=95)          # past the default 80% budget share
    report = world.run(now() + 3 * HOUR)
    assert report.status == "budget" and report.watched == 0
    assert world.lead(lead)["OwnerId"] == world.users["ade"]
    world.sf.set_api_limit(100_000)
    assert world.run(now() + 3 * HOUR).counts == {"reassign": 1}
