"""Marketing event responses end to end: HubSpot participations -> one Lead, one membership
whose status only moves forward, each move recorded once, under every method."""

from __future__ import annotations

import collections
from contextlib import closing

import pytest

from connector.adapters.sqlite.ledger import State
from connector.adapters.transport import RetryPolicy
from connector.engine.report import RunOptions
from connector.engine.wiring import Session
from event_world import EventWorld
from sync_helpers import EXT, Org

METHODS = ["poi", "hybrid", "unique"]
KEYED = {"salesforce": {"lead_external_id_field": EXT}}


@pytest.fixture
def world(sandbox, tmp_path) -> EventWorld:
    w = EventWorld(Org(sandbox, tmp_path / "leadsync.db"))
    w.create_event()
    return w


def statuses(w: EventWorld) -> dict[str, str]:
    """Email -> the event membership's status (one membership per person asserted)."""
    members = w.members()
    people = collections.Counter(m["Email"] for m in members)
    assert all(n == 1 for n in people.values()), f"a second membership: {people}"
    return {m["Email"]: m["Status"] for m in members}


def ledger(w: EventWorld) -> list[dict]:
    with closing(State.open(w.org.state_path)) as state:
        return state.rows()


@pytest.mark.parametrize("method", METHODS)
def test_registration_then_attendance_one_lead_one_membership_moving(world, method):
    world.record("registered", "pat@example.com", firstname="Pat", lastname="Lee")
    first = world.sync(method, **KEYED)
    assert first.status == "ok", first.error
    assert statuses(world) == {"pat@example.com": "Registered"}
    assert "status_moves" not in first.counts                    # a new membership
    world.record("attended", "pat@example.com")
    second = world.sync(method, **KEYED)
    assert second.status == "ok", second.error
    assert statuses(world) == {"pat@example.com": "Attended"}
    assert second.counts["status_moves"] == 1                     # the move, said as such
    assert len(world.org.leads("pat@example.com")) == 1          # poi too: not two
    rows = ledger(world)
    assert len(rows) == 2 and {r["status"] for r in rows} == {"applied"}
    assert {r["form_id"] for r in rows} == {f"event:{world.event_id}"}
    with closing(State.open(world.org.state_path)) as state:    # `status` says it so too
        said = {r["outcome"]: r["n"] for r in state.daily_outcomes(0)}
    assert said.get("status_moved") == 1 and sum(said.values()) == 2
    third = world.sync(method, **KEYED)                           # a rerun changes nothing
    assert third.counts.get("pulled", 0) == 0 and len(ledger(world)) == 2
    assert statuses(world) == {"pat@example.com": "Attended"}


@pytest.mark.parametrize("method", METHODS)
def test_registration_and_attendance_in_one_batch(world, method):
    world.record("registered", "sam@example.com", lastname="Sam")
    world.record("attended", "sam@example.com")
    report = world.sync(method, **KEYED)
    assert report.status == "ok", report.error
    assert statuses(world) == {"sam@example.com": "Attended"}
    assert len(world.org.leads("sam@example.com")) == 1
    assert len(ledger(world)) == 2


@pytest.mark.parametrize("method", METHODS)
def test_attendance_before_registration_then_the_late_registration_leaves_attended(world, method):
    world.record("attended", "ann@example.com", lastname="Ann")
    assert world.sync(method, **KEYED).status == "ok"
    assert statuses(world) == {"ann@example.com": "Attended"}
    world.record("registered", "ann@example.com")          # a late registration record
    report = world.sync(method, **KEYED)
    assert report.status == "ok", report.error
    assert statuses(world) == {"ann@example.com": "Attended"}
    assert len(world.org.leads("ann@example.com")) == 1
    rows = ledger(world)
    assert len(rows) == 2 and {r["status"] for r in rows} == {"applied"}


def test_cancellation_moves_registered_to_cancelled(world):
    world.record("registered", "cat@example.com", lastname="Cat")
    world.sync("hybrid")
    world.record("cancelled", "cat@example.com")
    assert world.sync("hybrid").status == "ok"
    assert statuses(world) == {"cat@example.com": "Cancelled"}


def test_no_show_once_the_event_is_over_and_final(world):
    world.record("registered", "nia@example.com", lastname="Nia")
    world.record("registered", "ola@example.com", lastname="Ola")
    world.record("attended", "ola@example.com")
    world.sync("unique")
    world.end_event()
    report = world.sync("unique")
    assert report.status == "ok", report.error
    assert statuses(world) == {"nia@example.com": "No Show", "ola@example.com": "Attended"}
    world.record("attended", "nia@example.com")            # after the end: No Show is final
    world.sync("unique")
    assert statuses(world)["nia@example.com"] == "No Show"


def test_a_responded_status_is_not_replaced_by_a_non_responded_one(world):
    """A person who already responded to the campaign (say "Attended" set by hand) keeps it
    when a registration or a cancellation arrives."""
    world.record("registered", "rae@example.com", lastname="Rae")
    world.sync("hybrid")
    member = world.members()[0]
    world.org.sf.update("CampaignMember", member["Id"], {"Status": "Attended"})
    world.record("cancelled", "rae@example.com")
    world.sync("hybrid")
    assert statuses(world) == {"rae@example.com": "Attended"}


def test_event_and_forms_together_keep_their_own_streams(world):
    world.org.add_forms(1)
    world.org.fill(0, "fay@example.com", lastname="Fay")
    world.record("registered", "fay@example.com")
    report = world.sync("hybrid", forms=True)
    assert report.status == "ok", report.error
    assert len(world.org.leads("fay@example.com")) == 1
    assert {r["form_id"] for r in ledger(world)} == {world.org.forms[0], f"event:{world.event_id}"}
    with closing(State.open(world.org.state_path)) as state:
        assert state.watermark(f"event:{world.event_id}") is not None
        assert state.watermark(world.org.forms[0]) is not None


def test_dry_run_shows_the_move_and_writes_nothing(world):
    world.record("registered", "dee@example.com", lastname="Dee")
    world.sync("hybrid")
    world.record("attended", "dee@example.com")
    with Session(world.settings("hybrid"), dry_run=True, retry=RetryPolicy.fast()) as engine:
        report = engine.run(RunOptions(dry_run=True, keep_details=True))
    assert report.status == "ok", report.error
    [line] = report.responses
    assert line["member"] == "update" and line["member_note"] == "member status Registered -> Attended"
    assert statuses(world) == {"dee@example.com": "Registered"}
    assert len(ledger(world)) == 1


def test_retry_applies_a_parked_event_response_once_its_cause_is_fixed(world):
    world.org.sf.add_validation_rule("CampaignMember", "Closed_event",
                                     f'CampaignId = "{world.event_campaign}"', "Closed for now.")
    world.record("registered", "rex@example.com", lastname="Rex")
    parked = world.sync("hybrid")
    assert parked.counts.get("failed") == 1
    assert world.org.sf.store.validation_rules.remove("CampaignMember", "Closed_event")
    with Session(world.settings("hybrid"), retry=RetryPolicy.fast()) as engine:
        report = engine.retry()
    assert report.status == "ok", report.error
    assert statuses(world) == {"rex@example.com": "Registered"}
    assert len(world.org.leads("rex@example.com")) == 1
    assert {r["status"] for r in ledger(world)} == {"applied"}


def test_reconcile_finds_no_drift_in_a_moved_membership(world, tmp_path):
    world.record("registered", "zoe@example.com", lastname="Zoe")
    world.sync("hybrid")
    world.record("attended", "zoe@example.com")
    world.sync("hybrid")
    from connector.commands.reconcile import open_session
    reconciler, state = open_session(world.settings("hybrid"), fix=False)
    try:
        scan = reconciler.scan(0)
    finally:
        state.close()
    counts = scan.drift.counts
    assert counts["status_differs"] == 0 and counts["moved_on"] == 0
    assert sum(counts[name] for name in ("missing_record", "missing_member", "unrecorded")
               if name in counts) == 0


def test_an_event_campaign_missing_a_status_pauses_the_event_and_says_which(world):
    world.record("registered", "liv@example.com", lastname="Liv")
    settings = world.settings("hybrid")
    entry = settings.campaigns[0]
    from dataclasses import replace
    from connector.config.sources import EventStatuses
    settings = replace(settings, campaigns=(replace(entry, statuses=EventStatuses(no_show="Absent")),))
    with Session(settings, retry=RetryPolicy.fast()) as engine:
        report = engine.run()
    assert report.status == "partial" and world.members() == []
    [paused] = report.paused
    assert "'Absent'" in paused["message"] and "statuses" in paused["message"]
    assert world.sync("hybrid").status == "ok"                 # fixed: the response is picked up
    assert statuses(world) == {"liv@example.com": "Registered"}


def test_a_probed_daemon_cycle_still_reads_the_events_the_probe_cannot_see(world):
    """The freshness probe asks HubSpot about form conversions only: a cycle that pages no
    form (nothing new on any) must still read the mapped event, not wait for the sweep."""
    from connector.commands.freshness import Freshness
    from connector.engine.wiring import build_engine, clients

    world.org.add_forms(1)
    settings = world.settings("hybrid", forms=True, sync={"full_sweep_every": "1h"}, **KEYED)
    vendors = clients(settings, retry=RetryPolicy.fast())
    with closing(State.open(settings.state_path)) as state:
        engine = build_engine(settings, state=state, vendors=vendors)
        fresh = Freshness(settings, state=state, hubspot=vendors.hubspot)
        first = fresh.cycle(engine, RunOptions())
        assert first.plan.sweep and first.report.status == "ok", first.report.error
        world.record("registered", "pat@example.com", firstname="Pat", lastname="Lee")
        probed = fresh.cycle(engine, RunOptions())
        assert not probed.plan.sweep and probed.plan.forms == frozenset()   # no form paged
        assert probed.report.status == "ok", probed.report.error
        assert statuses(world) == {"pat@example.com": "Registered"}
        world.record("attended", "pat@example.com")
        moved = fresh.cycle(engine, RunOptions())             # a move needs the ladder read
        assert not moved.plan.sweep and moved.report.status == "ok", moved.report.error
    assert statuses(world) == {"pat@example.com": "Attended"}


def test_an_event_hubspot_does_not_have_pauses_alone(world):
    """A marketing event deleted in HubSpot (or a wrong event_id) answers 404: that entry
    pauses, named, and the form and the other event sync; its watermark is not moved."""
    from dataclasses import replace
    world.org.add_forms(1)
    world.org.fill(0, "fay@example.com", lastname="Fay")
    world.record("registered", "liv@example.com", lastname="Liv")
    settings = world.settings("hybrid", forms=True)
    gone = replace(settings.campaigns[-1], form_id="event:999999999", event_id="999999999")
    settings = replace(settings, campaigns=(*settings.campaigns, gone))
    with Session(settings, retry=RetryPolicy.fast()) as engine:
        report = engine.run()
    assert report.status == "partial" and report.exit_code == 3, report.error
    [paused] = report.paused
    assert paused["entry"] == "campaigns[2]" and paused["form_id"] == "event:999999999"
    assert "no marketing event with this id (404)" in paused["message"]
    assert len(world.org.leads("fay@example.com")) == 1
    assert statuses(world) == {"liv@example.com": "Registered"}
    with closing(State.open(world.org.state_path)) as state:
        assert state.watermark("event:999999999") is None
        assert state.watermark(f"event:{world.event_id}") is not None
    assert world.sync("hybrid", forms=True).status == "ok"     # the entry removed: all clear


def test_an_app_without_the_marketing_events_scope_pauses_the_events_alone(world):
    """The private app lacks crm.objects.marketing_events.read: HubSpot answers 403
    MISSING_SCOPES. The event entry pauses, naming the scope; the forms sync; once the scope
    is granted, the next run reads the event from where it was."""
    world.org.add_forms(1)
    world.org.fill(0, "fay@example.com", lastname="Fay")
    world.record("registered", "liv@example.com", lastname="Liv")
    hubspot = world.org.sandbox.app.hubspot
    hubspot.revoke_scopes("crm.objects.marketing_events.read")
    report = world.sync("hybrid", forms=True)
    assert report.status == "partial" and report.exit_code == 3, report.error
    [paused] = report.paused
    assert paused["entry"] == "campaigns[1]" and paused["form_id"] == f"event:{world.event_id}"
    assert "crm.objects.marketing_events.read" in paused["message"]
    assert "MISSING_SCOPES" in paused["message"] and "@" not in paused["message"]
    assert len(world.org.leads("fay@example.com")) == 1 and world.members() == []
    with closing(State.open(world.org.state_path)) as state:
        assert state.watermark(f"event:{world.event_id}") is None
    hubspot.grant_all_scopes()
    assert world.sync("hybrid", forms=True).status == "ok"
    assert statuses(world) == {"liv@example.com": "Registered"}


def test_the_sandbox_answers_missing_scopes_as_hubspot_does(world):
    """The reply hubspot-api-client gets for a call the app's scopes do not cover."""
    from hubspot.marketing.events import ApiException  # type: ignore[import-untyped]
    import json
    world.org.sandbox.app.hubspot.revoke_scopes("crm.objects.marketing_events.read")
    with pytest.raises(ApiException) as err:
        world.client.marketing.events.basic_api.get_by_object_id(world.event_id)
    assert err.value.status == 403
    body = json.loads(err.value.body)
    assert body["category"] == "MISSING_SCOPES" and body["status"] == "error"
    assert body["errors"][0]["context"]["requiredGranularScopes"] == [
        "crm.objects.marketing_events.read"]
    assert body["links"]["scopes"] == "https://developers.hubspot.com/scopes"
