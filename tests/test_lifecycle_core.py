"""The lifecycle's decisions as a table, in the seed's words (seed 002, point 5): "track when
sales acts on a lead, and have a process in place to reassign the lead or escalate the issue
in a timely fashion if your service level agreement is not met"; "the ability for reps to
recycle leads, and to specify the timeframe when they want that lead to come back"."""

from __future__ import annotations

from dataclasses import replace

import pytest

from connector.config.lifecycle import parse_lifecycle
from connector.config.routing import parse_routing
from connector.core.enrich.owners import OwnerRef
from connector.core.lifecycle.clock import duration_text, elapsed_seconds, ordinal
from connector.core.lifecycle.decide import decide, next_in_pool
from connector.core.lifecycle.figures import ActionFact, owner_figures
from connector.core.lifecycle.model import (Kind, LeadFacts, PoolMember, TaskFacts, Watch,
                                            WatchState)
from connector.core.lifecycle.rules import BusinessHours, LifecycleRules, OnBreach, Touch
from connector.errors import ConfigError

ADE, BEA, CY, MAX, NURTURE_Q = "005A", "005B", "005C", "005M", "00GN"
NAMES = {ADE: "Ade", BEA: "Bea", CY: "Cy", MAX: "Max", NURTURE_Q: "queue Nurture"}
POOL = (PoolMember(BEA, "Bea"), PoolMember(CY, "Cy"))
MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000
T0 = 1_764_583_200_000          # Mon 2025-12-01 10:00 UTC
RULES = LifecycleRules(
    sla_seconds=5 * 60, sales_ready_status="Sales Ready", on_breach=OnBreach.BOTH,
    pool=(OwnerRef("user", "bea", BEA), OwnerRef("user", "cy", CY)), max_reassignments=2,
    escalate_to=OwnerRef("user", "max", MAX), recycled_status="Recycled",
    recycle_owner=OwnerRef("queue", "Nurture", NURTURE_Q), nurture_status="Nurture")


def watch(**over) -> Watch:
    return replace(Watch("00QL", "pat@corp.com", ADE, "00TF", T0, T0, first_owner_id=ADE), **over)


def lead(status="Sales Ready", task_closed=False, others=(), owner=ADE, **over) -> LeadFacts:
    tasks = (TaskFacts("00TF", task_closed, owner, T0, T0 + 2 * MIN),
             *(TaskFacts(f"00TO{i}", True, owner, at, at) for i, at in enumerate(others)))
    return LeadFacts("00QL", owner, NAMES.get(owner), status, modified_ms=T0 + 3 * MIN,
                     tasks=tasks, **over)


# (what happened, watch, Lead as read, minutes after the hand-off, kind, reason contains)
TABLE = [
    ("a five-minute follow-up, still within it", watch(), lead(), 4, Kind.LEAVE, "within the SLA"),
    ("the rep called: status moved", watch(), lead("Working"), 30, Kind.TOUCHED,
     "Lead Status is Working"),
    ("the rep completed the follow-up Task", watch(), lead(task_closed=True), 30, Kind.TOUCHED,
     "Task was completed"),
    ("the rep logged a call", watch(), lead(others=(T0 + MIN,)), 30, Kind.TOUCHED, "activity"),
    ("an activity from before the hand-off is no touch", watch(), lead(others=(T0 - MIN,)), 4,
     Kind.LEAVE, "within"),
    ("the rep was in a meeting: breach", watch(), lead(), 134, Kind.REASSIGN,
     "breach: 2h 14m without a touch; from Ade to Bea, 1st reassignment"),
    ("Bea let it lapse too", watch(owner_id=BEA, reassignments=1, clock_ms=T0 + HOUR),
     lead(owner=BEA), 70, Kind.REASSIGN, "from Bea to Cy, 2nd reassignment"),
    ("after two reassignments: escalate", watch(owner_id=CY, reassignments=2), lead(owner=CY),
     10, Kind.ESCALATE, "after 2 reassignments; escalated to Max"),
    ("not ready to buy: the rep recycles it", watch(),
     lead("Recycled", recycle_reason="No budget", come_back_date="2026-03-01"), 30, Kind.RECYCLE,
     "recycled by Ade (No budget); to queue Nurture, comes back on 2026-03-01"),
    ("recycled without a date: the default delay", watch(), lead("Recycled"), 30, Kind.RECYCLE,
     "comes back after 90d"),
    ("converted", watch(), lead(converted=True), 30, Kind.CLOSE, "converted"),
    ("recycled, its date not come", watch(state=WatchState.RECYCLED, come_back_ms=T0 + DAY),
     lead("Nurture", owner=NURTURE_Q), 60, Kind.LEAVE, "comes back on 2025-12-02"),
    ("recycled, its date has come", watch(state=WatchState.RECYCLED, come_back_ms=T0 + DAY),
     lead("Nurture", owner=NURTURE_Q), 25 * 60, Kind.COME_BACK, "stays in nurture"),
]


@pytest.mark.parametrize("what,w,facts,minutes,kind,reason", TABLE, ids=[t[0] for t in TABLE])
def test_decisions(what, w, facts, minutes, kind, reason):
    verdict = decide(w, facts, RULES, now_ms=T0 + minutes * MIN, pool=POOL, rotation=-1,
                     names=NAMES)
    assert verdict.kind is kind, verdict.reason
    assert reason in verdict.reason


def test_a_reassignment_moves_the_open_task_and_restarts_the_clock():
    v = decide(watch(), lead(), RULES, now_ms=T0 + HOUR, pool=POOL, rotation=-1, names=NAMES)
    assert (v.owner_id, v.move_tasks, v.task_owner_id, v.rotation) == (BEA, ("00TF",), BEA, 0)
    assert v.watch.clock_ms == T0 + HOUR and v.watch.reassignments == 1
    assert v.watch.handed_off_ms == T0          # time to first touch still counts from here


def test_round_robin_skips_inactive_members_and_the_current_owner():
    pool = (PoolMember(ADE, "Ade"), PoolMember(BEA, "Bea", active=False), PoolMember(CY, "Cy"))
    assert next_in_pool(pool, 0, None) == (2, pool[2])        # Bea inactive
    assert next_in_pool(pool, 1, CY) == (0, pool[0])          # Cy holds it already
    assert next_in_pool((PoolMember(ADE, "Ade"),), 0, ADE) is None


@pytest.mark.parametrize("on_breach,kind", [(OnBreach.REASSIGN, Kind.REASSIGN),
                                            (OnBreach.ESCALATE, Kind.ESCALATE)])
def test_on_breach_choices(on_breach, kind):
    rules = replace(RULES, on_breach=on_breach)
    assert decide(watch(), lead(), rules, now_ms=T0 + HOUR, pool=POOL, names=NAMES).kind is kind


def test_reassign_only_stops_after_the_last_reassignment():
    rules = replace(RULES, on_breach=OnBreach.REASSIGN)
    v = decide(watch(reassignments=2), lead(), rules, now_ms=T0 + HOUR, pool=POOL)
    assert v.kind is Kind.EXHAUSTED and v.watch.state is WatchState.EXHAUSTED


def test_touches_not_counted_are_ignored():
    rules = replace(RULES, touched_when=frozenset({Touch.TASK}))
    v = decide(watch(), lead("Working"), rules, now_ms=T0 + HOUR, pool=POOL)
    assert v.kind is Kind.REASSIGN


def test_business_hours_stop_the_clock_overnight_and_at_weekends():
    hours = BusinessHours(frozenset(range(5)), 9 * 60, 17 * 60, "UTC")
    fri_1655 = T0 + 4 * DAY + 6 * HOUR + 55 * MIN               # Fri 2025-12-05 16:55
    mon_0903 = T0 + 7 * DAY - HOUR + 3 * MIN                    # Mon 2025-12-08 09:03
    assert elapsed_seconds(fri_1655, mon_0903, hours) == 8 * 60
    rules = replace(RULES, business_hours=hours)
    late = watch(handed_off_ms=fri_1655, clock_ms=fri_1655)
    assert decide(late, lead(), rules, now_ms=mon_0903 - 3 * MIN, pool=POOL).kind is Kind.LEAVE
    assert decide(late, lead(), rules, now_ms=mon_0903, pool=POOL).kind is Kind.REASSIGN


def test_words():
    assert duration_text(2 * 3600 + 14 * 60 + 5) == "2h 14m"
    assert duration_text(45) == "45s" and duration_text(3 * 86400 + 7200) == "3d 2h"
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 22)] == \
        ["1st", "2nd", "3rd", "4th", "11th", "12th", "22nd"]


def test_owner_figures():
    watches = [watch(lead_id="1", touched_ms=T0 + 4 * MIN, within_sla=True),
               watch(lead_id="2", touched_ms=T0 + 20 * MIN, within_sla=False),
               watch(lead_id="3")]
    actions = [ActionFact(Kind.REASSIGN, ADE, BEA), ActionFact(Kind.RECYCLE, BEA, NURTURE_Q),
               ActionFact(Kind.COME_BACK, NURTURE_Q, ADE)]
    figures = {f.owner: f for f in owner_figures(watches, actions, NAMES)}
    ade = figures["Ade"]
    assert (ade.handoffs, ade.median_first_touch_seconds, ade.within_sla_share, ade.breaches,
            ade.reassignments, ade.came_back) == (3, 12 * 60, 0.5, 1, 1, 1)
    assert figures["Bea"].recycled == 1


# -- [lifecycle] ---------------------------------------------------------------------------

ROUTING = parse_routing({"mode": "none", "timezone": "Europe/Berlin",
                         "stages": {"nurture": "Nurture", "sales_ready": "Sales Ready",
                                    "sales_ready_forms": ["f1"]}})
GOOD = {"sla": "5m", "on_breach": "both", "pool": ["user:bea@acme.example", "user:cy@acme.example"],
        "max_reassignments": 2, "escalate_to": "user:max@acme.example",
        "business_hours": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00",
                           "end": "17:30"},
        "touched_when": ["status", "task"], "recycled_status": "Recycled",
        "recycle_reason_field": "Recycle_Reason__c", "recycle_date_field": "Recycle_Date__c",
        "recycle_delay": "90d", "recycle_owner": "queue:Marketing_Nurture"}


def test_config_reads_every_key():
    rules = parse_lifecycle(GOOD, ROUTING)
    assert rules is not None
    assert (rules.sla_seconds, rules.sales_ready_status, rules.nurture_status) == \
        (300, "Sales Ready", "Nurture")
    assert rules.business_hours == BusinessHours(frozenset(range(5)), 540, 1050, "Europe/Berlin")
    assert rules.touched_when == {Touch.STATUS, Touch.TASK}
    assert [r.key for r in rules.pool] == ["user:bea@acme.example", "user:cy@acme.example"]
    assert rules.recycle_owner == OwnerRef("queue", "Marketing_Nurture")
    assert parse_lifecycle(None, ROUTING) is None


@pytest.mark.parametrize("change,key", [
    ({"sla": "soon"}, "lifecycle.sla"),
    ({"sla": None}, "lifecycle.sla"),
    ({"on_breach": "shout"}, "lifecycle.on_breach"),
    ({"pool": []}, "lifecycle.pool"),
    ({"pool": ["queue:A", "user:b@c.de"]}, "lifecycle.pool"),
    ({"escalate_to": "queue:Managers"}, "lifecycle.escalate_to"),
    ({"touched_when": ["smoke signals"]}, "lifecycle.touched_when"),
    ({"business_hours": {"start": "18:00", "end": "09:00"}}, "lifecycle.business_hours"),
    ({"recycle_owner": None}, "lifecycle.recycle_owner"),
    ({"recycle_date_field": "not a field"}, "lifecycle.recycle_date_field"),
    ({"max_reassignments": -1}, "lifecycle.max_reassignments"),
    ({"surprise": 1}, "lifecycle.surprise"),
])
def test_config_mistakes_name_their_key(change, key):
    table = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(ConfigError) as err:
        parse_lifecycle(table, ROUTING)
    assert err.value.key == key or key in str(err.value)


def test_config_needs_stages():
    with pytest.raises(ConfigError) as err:
        parse_lifecycle(GOOD, parse_routing(None))
    assert err.value.key == "lifecycle"


def test_a_score_that_became_sales_ready_while_recycled_hands_it_off_again_on_its_date():
    recycled = watch(state=WatchState.RECYCLED, come_back_ms=T0 + DAY)
    nurtured = lead("Nurture", owner=NURTURE_Q)
    stays = decide(recycled, nurtured, RULES, now_ms=T0 + 2 * DAY, names=NAMES)
    assert stays.kind is Kind.COME_BACK and "stays in nurture" in stays.reason
    scored = decide(recycled, nurtured, RULES, now_ms=T0 + 2 * DAY, names=NAMES,
                    score_ready_since_recycled=True)
    assert scored.kind is Kind.COME_BACK and "sales-ready: handed off again" in scored.reason
    assert scored.status == RULES.sales_ready_status and scored.watch.state is WatchState.OPEN
    assert scored.new_task is not None and "its score since made it sales-ready" in scored.new_task.description
    early = decide(recycled, nurtured, RULES, now_ms=T0 + HOUR, names=NAMES,
                   score_ready_since_recycled=True)
    assert early.kind is Kind.LEAVE                     # not before its come-back date


def test_a_rescore_promotion_is_watched_as_a_form_hand_off_is(tmp_path):
    """[scoring]'s daily rescore hands off by its own table (score_handoffs), not a ledger
    row: the lifecycle takes those in too, once, Leads only."""
    import json

    from connector.adapters.sqlite.ledger import State
    from connector.adapters.sqlite.lifecycle import LifecycleStore

    state = State.open(tmp_path / "leadsync.db")
    try:
        plan = json.dumps({"fields": {"Status": "Sales Ready", "OwnerId": BEA}, "task": {}})
        state.db["score_handoffs"].insert_all([
            {"key": "k1", "email": "pat@corp.com", "record_id": "00QP", "status": "done",
             "task_id": "00TP", "fields": plan, "updated_at": "2026-01-05T10:00:00+00:00"},
            {"key": "k2", "email": "sam@corp.com", "record_id": "003S", "status": "done",
             "task_id": "00TS", "fields": plan, "updated_at": "2026-01-05T10:00:00+00:00"},
            {"key": "k3", "email": "kim@corp.com", "record_id": "00QK", "status": "pending",
             "task_id": None, "fields": plan, "updated_at": "2026-01-05T10:00:00+00:00"}])
        store = LifecycleStore(state.db)
        assert store.take_in_handoffs() == 1
        (w,) = store.all_watches()
        assert (w.lead_id, w.email, w.owner_id, w.task_id, w.state) == \
            ("00QP", "pat@corp.com", BEA, "00TP", WatchState.OPEN)
        assert store.take_in_handoffs() == 0                 # once
    finally:
        state.close()
