"""The pure funnel: counting rules on hand-made facts, and lead planning back through the
measured rates (no plan from too few people)."""

from __future__ import annotations

import pytest

from connector.core.funnel import (Funnel, FunnelRow, LeadFacts, Opportunity, Org, Response,
                                   StageRule, TaskFacts, build_funnel, plan)
from connector.render.funnel import plan_text, to_text

H = 3_600_000


def _resp(n: int, email: str, **kw) -> Response:
    base = dict(conversion_id=f"c{n}", form_id="f1", submitted_at=n * H, email=email,
                campaign_id="C1", action="create_lead")
    base.update(kw)
    return Response(**base)   # type: ignore[arg-type]


def test_steps_count_people_once_and_measure_times():
    org = Org(leads={"L1": LeadFacts("L1", status="Working", is_converted=True,
                                      converted_ms=10 * H, account_id="A1",
                                      opportunity_id="O1"),
                     "L2": LeadFacts("L2", status="Sales Ready")},
              tasks={"T1": TaskFacts("T1", created_ms=1 * H, closed=True, modified_ms=3 * H),
                     "T2": TaskFacts("T2", created_ms=2 * H)},
              opportunities={"O1": Opportunity("O1", "A1", 10 * H, 100.0, True, 20 * H),
                             "O0": Opportunity("O0", "A1", -H, 999.0, True, H)},
              account_names={"A1": "Acme"})
    responses = [_resp(0, "a@x", lead_id="L1", task_id="T1"),
                 _resp(1, "A@x", lead_id="L1", action="attach_lead"),
                 _resp(2, "b@x", lead_id="L2", task_id="T2"),
                 _resp(3, "c@y", action="attach_contact", contact_id="K1", form_id="hot")]
    row = build_funnel(responses, org, by="campaign", since="s",
                       rule=StageRule("Sales Ready", frozenset({"hot"}))).rows[0]
    assert (row.responses, row.people, row.new_leads, row.attached) == (4, 3, 2, 2)
    assert (row.sales_ready, row.accepted, row.converted) == (3, 1, 1)
    # O0 opened before the first response: not this campaign's
    assert (row.opportunities, row.won, row.won_amount) == (1, 1, 100.0)
    assert row.rates["accepted"] == round(1 / 3, 4)
    assert row.median_hours["sales_ready"] == 0.0     # a: 1h, b: 0h, c: 0h
    assert row.median_hours["accepted"] == 2.0        # T1 closed 2h after it was made
    assert row.median_hours["won"] == 10.0


def test_a_lead_moved_off_the_sales_ready_status_is_accepted():
    org = Org(leads={"L": LeadFacts("L", status="Working - Contacted", modified_ms=5 * H)})
    funnel = build_funnel([_resp(0, "a@x", lead_id="L", form_id="hot")], org, by="form",
                          since="s", rule=StageRule("Open - Sales Ready", frozenset({"hot"})))
    assert funnel.rows[0].accepted == 1 and funnel.rows[0].key == "hot"


def _row(people: int, ready: int, opps: int, won_amount: float) -> FunnelRow:
    return FunnelRow("C", "Camp", responses=people * 2, people=people, sales_ready=ready,
                     opportunities=opps, won_amount=won_amount)


def test_plan_works_back_through_the_rates():
    funnel = Funnel("s", "campaign", [_row(50, 25, 5, 10_000.0)], [])
    got = plan(funnel, opportunities=3, min_people=20).rows[0]
    # 0.2 opportunities per sales-ready lead -> 15 sales-ready; 0.25 per response -> 60
    assert (got.sales_ready_needed, got.responses_needed, got.reason) == (15, 60, None)
    assert [(r.name, r.value, r.over_people) for r in got.rates] == [
        ("sales_ready_per_response", 0.25, 50), ("opportunities_per_sales_ready", 0.2, 25)]
    money = plan(funnel, revenue=4_000, min_people=20).rows[0]
    assert (money.sales_ready_needed, money.responses_needed) == (10, 40)   # 400 per lead
    assert "4,000.00 in won revenue" in plan_text(plan(funnel, revenue=4_000))


def test_no_plan_from_too_few_people_and_it_says_so():
    funnel = Funnel("s", "campaign", [_row(50, 12, 5, 0.0)], [])
    got = plan(funnel, opportunities=3).rows[0]
    assert got.sales_ready_needed is None
    assert got.reason == ("opportunities_per_sales_ready measured over 12 people "
                          "(fewer than 20)")
    zero = plan(Funnel("s", "campaign", [_row(50, 25, 0, 0.0)], []), opportunities=1).rows[0]
    assert zero.sales_ready_needed is None and "no opportunities_per_sales_ready" in zero.reason
    assert "no plan" in plan_text(plan(funnel, opportunities=3))


def test_plan_wants_exactly_one_target():
    funnel = Funnel("s", "campaign", [], [])
    with pytest.raises(ValueError):
        plan(funnel)
    with pytest.raises(ValueError):
        plan(funnel, opportunities=1, revenue=5.0)


def test_text_report_lists_rows_rates_and_accounts():
    org = Org(leads={"L": LeadFacts("L", is_converted=True, account_id="A")},
              account_names={"A": "Acme"})
    text = to_text(build_funnel([_resp(0, "a@x", lead_id="L")], org, by="campaign",
                                since="2024-01-01", names={"C1": "Webinar"}), calls=2)
    assert "Funnel since 2024-01-01, by campaign; 2 Salesforce calls" in text
    assert "Webinar" in text and "Acme" in text and "1 people" in text
