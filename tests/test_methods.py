"""The seed article's examples, as a table: Bob Smith's four form fills under each method
and each starting state (unknown / already a lead / already a contact)."""

from __future__ import annotations

import pytest

from connector.core.methods import RunMemory, decide, decide_all
from connector.core.model import Action, Match, Method, Record, Response, Target
from connector.core.plan import ExistingMember, plan_batch

BOB = "bob@acme.example"
LEAD = Record("00Q000000000001AAA", "Lead", BOB, "2024-01-01T00:00:00.000+0000")
CONTACT = Record("003000000000001AAA", "Contact", BOB, "2024-01-01T00:00:00.000+0000")


def bob_fills(n: int = 4) -> list[Response]:
    return [Response(f"conv-{i}", f"form-{i}", 1_700_000_000_000 + i, BOB,
                     {"LastName": "Smith", "Company": "Acme", "Email": BOB}, f"701{i}", "Responded")
            for i in range(1, n + 1)]


def run(method: Method, match: Match, prefers: str = "contact"):
    memory = RunMemory()
    decisions = decide_all(method, bob_fills(), {BOB: match}, memory, unique_prefers=prefers)
    plan = plan_batch(decisions, {}, {})
    return decisions, plan


UNKNOWN = Match(BOB)
IS_LEAD = Match(BOB, lead=LEAD, lead_count=1)
IS_CONTACT = Match(BOB, contact=CONTACT, contact_count=1)

# method, starting state -> (Leads created, actions of fills 1..4, record the members land on)
SEED_TABLE = [
    (Method.POI, UNKNOWN, 4, ["create_lead"] * 4),
    (Method.POI, IS_LEAD, 4, ["create_lead"] * 4),
    (Method.POI, IS_CONTACT, 4, ["create_lead"] * 4),
    (Method.HYBRID, UNKNOWN, 1, ["create_lead"] + ["attach_lead"] * 3),
    (Method.HYBRID, IS_LEAD, 0, ["attach_lead"] * 4),
    (Method.HYBRID, IS_CONTACT, 1, ["create_lead"] + ["attach_lead"] * 3),
    (Method.UNIQUE, UNKNOWN, 1, ["create_lead"] + ["attach_lead"] * 3),
    (Method.UNIQUE, IS_LEAD, 0, ["attach_lead"] * 4),
    (Method.UNIQUE, IS_CONTACT, 0, ["attach_contact"] * 4),
]


@pytest.mark.parametrize("method,match,leads,actions", SEED_TABLE,
                         ids=[f"{row[0].value}-{('unknown', 'lead', 'contact')[i % 3]}"
                              for i, row in enumerate(SEED_TABLE)])
def test_seed_examples(method, match, leads, actions):
    decisions, plan = run(method, match)
    assert [d.action.value for d in decisions] == actions
    assert len(plan.leads) == leads
    # every fill lands in its own campaign: four memberships, none duplicated
    assert len(plan.members) == 4
    assert {m.campaign_id for m in plan.members} == {"7011", "7012", "7013", "7014"}


def test_hybrid_later_fills_attach_to_the_lead_the_first_fill_creates():
    decisions, plan = run(Method.HYBRID, IS_CONTACT)
    first = decisions[0]
    assert first.target == Target("Lead", None, "conv-1")
    for later in decisions[1:]:
        assert later.target == Target("Lead", None, "conv-1")
        assert "earlier response in this run" in later.reason
    assert {m.target for m in plan.members} == {Target("Lead", None, "conv-1")}


def test_unique_attaches_to_existing_lead_and_contact_by_preference():
    both = Match(BOB, lead=LEAD, contact=CONTACT, lead_count=1, contact_count=1)
    decisions, _ = run(Method.UNIQUE, both)
    assert {d.target.id for d in decisions} == {CONTACT.id}
    decisions, _ = run(Method.UNIQUE, both, prefers="lead")
    assert {d.target.id for d in decisions} == {LEAD.id}


def test_hybrid_with_lead_and_contact_attaches_to_the_lead():
    both = Match(BOB, lead=LEAD, contact=CONTACT)
    decisions, _ = run(Method.HYBRID, both)
    assert {(d.action, d.target.id) for d in decisions} == {(Action.ATTACH_LEAD, LEAD.id)}


def test_poi_each_fill_its_own_lead():
    decisions, plan = run(Method.POI, IS_LEAD)
    assert [lw.conversion_id for lw in plan.leads] == ["conv-1", "conv-2", "conv-3", "conv-4"]
    assert all(d.target.new_lead_of == d.conversion_id for d in decisions)


def test_memory_carries_a_created_lead_into_the_next_batch():
    memory = RunMemory()
    fills = bob_fills()
    first = decide_all(Method.HYBRID, fills[:2], {BOB: UNKNOWN}, memory)
    memory.created("conv-1", "00Q0000000000NEWAA")
    later = decide_all(Method.HYBRID, fills[2:], {BOB: UNKNOWN}, memory)
    assert first[0].action is Action.CREATE_LEAD
    assert [d.target for d in later] == [Target("Lead", "00Q0000000000NEWAA", "conv-1")] * 2


def test_recovered_lead_is_not_created_twice():
    memory = RunMemory()
    own = Record("00Q0000000000OWNAA", "Lead", BOB, "2024-05-01T00:00:00.000+0000", "conv-1")
    decisions = decide_all(Method.POI, bob_fills(2), {BOB: Match(BOB, lead=own)}, memory,
                           recovered={"conv-1": own})
    plan = plan_batch(decisions, {}, {})
    assert decisions[0].target == Target("Lead", own.id, "conv-1")
    assert [lw.conversion_id for lw in plan.leads] == ["conv-2"]


@pytest.mark.parametrize("existing,member,updates", [
    (None, "create", 0),
    (ExistingMember("00v1", "Responded", True), "exists", 0),
    (ExistingMember("00v1", "Attended", True), "exists", 0),   # never downgrade
    (ExistingMember("00v1", "Sent", False), "update", 1),      # Sent -> Responded
])
def test_existing_membership(existing, member, updates):
    response = bob_fills(1)[0]
    decisions = decide_all(Method.UNIQUE, [response], {BOB: IS_CONTACT}, RunMemory())
    known = {(response.campaign_id, CONTACT.id): existing} if existing else {}
    plan = plan_batch(decisions, known, {})
    assert plan.steps[0].member == member
    assert len(plan.member_updates) == updates
    assert len(plan.members) == (1 if member == "create" else 0)


def test_repeat_fill_of_same_form_in_one_run_is_an_existing_membership():
    fills = [Response(f"c{i}", "form-1", i, BOB, {"LastName": "S", "Company": "A"}, "701A", "Responded")
             for i in range(3)]
    planned: dict = {}
    decisions = decide_all(Method.HYBRID, fills, {BOB: UNKNOWN}, RunMemory())
    plan = plan_batch(decisions, {}, planned)
    assert [s.member for s in plan.steps] == ["create", "exists", "exists"]
    assert len(plan.members) == 1 and len(plan.leads) == 1


def test_decide_single_reasons_are_specific():
    response = bob_fills(1)[0]
    d = decide(Method.HYBRID, response, IS_CONTACT)
    assert d.action is Action.CREATE_LEAD and CONTACT.id in d.reason
