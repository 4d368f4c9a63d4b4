"""The status progression table: a member only moves forward. (pure)"""

from __future__ import annotations

import pytest

from connector.core.model import Action, Decision, Response, Target
from connector.core.plan import ExistingMember, plan_batch
from connector.core.progression import Ladder, OrgStatus, furthest, ladder_for, moves, thread_poi

ORG = [OrgStatus("Sent", False, 0), OrgStatus("Responded", True, 1),
       OrgStatus("Registered", False, 2), OrgStatus("Attended", True, 3),
       OrgStatus("No Show", False, 4), OrgStatus("Cancelled", False, 5)]
LABELS = {"registered": "Registered", "attended": "Attended", "no_show": "No Show",
          "cancelled": "Cancelled"}
LADDER = ladder_for(LABELS, ORG)
RESPONDED = {s.label: s.has_responded for s in ORG}

TABLE = [
    # current, new, moves?
    ("Registered", "Attended", True),
    ("Registered", "No Show", True),
    ("Registered", "Cancelled", True),
    ("Cancelled", "Attended", True),        # cancelled, then came anyway
    ("Attended", "Registered", False),      # a late registration record
    ("Attended", "No Show", False),         # final
    ("Attended", "Cancelled", False),
    ("No Show", "Attended", False),         # final
    ("No Show", "Registered", False),
    ("Cancelled", "Registered", False),     # never back
    ("Registered", "Registered", False),
    ("Sent", "Registered", True),           # an email send's member registers
    ("Sent", "Attended", True),
    ("Responded", "Registered", False),     # responded never replaced by non-responded
    ("Responded", "Attended", True),        # both responded: SortOrder says forward
    ("Responded", "Cancelled", False),
]


@pytest.mark.parametrize("current,new,expected", TABLE)
def test_moves_only_forward(current, new, expected):
    assert moves(LADDER, current, RESPONDED[current], new) is expected


def test_without_a_ladder_a_form_keeps_its_rule():
    assert moves(None, "Sent", False, "Responded") is True
    assert moves(None, "Attended", True, "Responded") is False


def test_a_responded_status_the_admin_made_registered_blocks_no_show():
    """Registered marked HasResponded: a no-show (not responded) cannot replace it."""
    org = [OrgStatus(s.label, s.has_responded or s.label == "Registered", s.sort_order) for s in ORG]
    ladder = ladder_for(LABELS, org)
    assert moves(ladder, "Registered", True, "No Show") is False
    assert moves(ladder, "Registered", True, "Attended") is True


def test_furthest_of_two_in_one_batch():
    assert furthest(LADDER, "Registered", "Attended") == "Attended"
    assert furthest(LADDER, "Attended", "Registered") == "Attended"
    assert furthest(None, "Registered", "Attended") == "Registered"


def _response(cid: str, status: str, email: str = "pat@example.com") -> Response:
    return Response(cid, "event:1", 0, email, {}, "701C", status)


def test_plan_moves_an_existing_member_once_per_batch_to_the_furthest():
    decisions = [Decision(_response("a", "Registered"), "a", Action.ATTACH_LEAD, Target("Lead", "00QA")),
                 Decision(_response("b", "Attended"), "b", Action.ATTACH_LEAD, Target("Lead", "00QA"))]
    existing = {("701C", "00QA"): ExistingMember("00vM", "Sent", False)}
    plan = plan_batch(decisions, existing, {}, {"701C": LADDER})
    assert [(u.member_id, u.status) for u in plan.member_updates] == [("00vM", "Attended")]
    assert [s.member.value for s in plan.steps] == ["update", "update"]


def test_plan_keeps_attended_when_the_registration_comes_later():
    decisions = [Decision(_response("a", "Registered"), "a", Action.ATTACH_LEAD, Target("Lead", "00QA"))]
    existing = {("701C", "00QA"): ExistingMember("00vM", "Attended", True)}
    plan = plan_batch(decisions, existing, {}, {"701C": LADDER})
    assert plan.member_updates == [] and plan.steps[0].member.value == "exists"


def test_a_new_membership_joins_at_the_furthest_status_of_its_batch():
    lead = Target("Lead", None, "a")
    decisions = [Decision(_response("a", "Registered"), "a", Action.CREATE_LEAD, lead),
                 Decision(_response("b", "Attended"), "b", Action.ATTACH_LEAD, lead)]
    plan = plan_batch(decisions, {}, {}, {"701C": LADDER})
    assert [(m.conversion_id, m.status) for m in plan.members] == [("a", "Attended")]
    assert plan.steps[1].via == "a"


def test_poi_threads_an_events_states_onto_the_first_lead():
    first = Decision(_response("a", "Registered"), "a", Action.CREATE_LEAD, Target("Lead", None, "a"))
    second = Decision(_response("b", "Attended"), "b", Action.CREATE_LEAD, Target("Lead", None, "b"))
    other = Decision(_response("c", "Attended", "kim@example.com"), "c", Action.CREATE_LEAD,
                     Target("Lead", None, "c"))
    out = thread_poi([first, second, other], [], {}, {"701C": LADDER})
    assert out[0] == first and out[2] == other
    assert out[1].action is Action.ATTACH_LEAD and out[1].target == Target("Lead", None, "a")


def test_poi_attaches_to_the_lead_already_in_the_campaign():
    rows = {"00QOLD": {"Id": "00QOLD", "Email": "pat@example.com"}}
    members = [{"Id": "00vM", "CampaignId": "701C", "LeadId": "00QOLD", "Status": "Registered"}]
    d = Decision(_response("b", "Attended"), "b", Action.CREATE_LEAD, Target("Lead", None, "b"))
    [out] = thread_poi([d], members, rows, {"701C": LADDER})
    assert out.action is Action.ATTACH_LEAD and out.target == Target("Lead", "00QOLD")


def test_forms_are_untouched_by_poi_threading():
    d = Decision(Response("f", "form-guid", 0, "pat@example.com", {}, "701F", "Responded"), "f",
                 Action.CREATE_LEAD, Target("Lead", None, "f"))
    assert thread_poi([d], [], {}, {"701C": LADDER}) == [d]
    assert isinstance(Ladder(), Ladder)
