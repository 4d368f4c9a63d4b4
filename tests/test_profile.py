"""profile.py as a table: what Bob's fills write to his record, beyond the membership."""

from __future__ import annotations

from connector.core.accounts import AccountMatch
from connector.config.mapping_file import parse_mapping
from connector.core.methods import RunMemory, decide_all
from connector.core.model import Action, Match, Method, Record, Response
from connector.core.plan import plan_batch
from connector.core.enrich.shape import Shaping, shape
from connector.config.routing import parse_routing
from connector.core.enrich.owners import with_owner_ids

BOB = "bob@acme.example"
LEAD = Record("00Q000000000001AAA", "Lead", BOB)
CONTACT = Record("003000000000001AAA", "Contact", BOB)
JANE, QUEUE = "005000000000001AAA", "00G000000000001AAA"
MAPPING = parse_mapping("""
[fields.email]
lead = "Email"
contact = "Email"
[fields.jobtitle]
lead = "Title"
contact = "Title"
[fields.phone]
lead = "Phone"
rule = "overwrite"
[fields.lastname]
lead = "LastName"
""")
ROUTING = with_owner_ids(parse_routing({
    "mode": "rules", "default_owner": "queue:Inbound",
    "rules": [{"owner": "user:jane@acme.example", "domain": ["acme.example"]}],
    "stages": {"nurture": "Open - Not Contacted", "sales_ready": "Working - Contacted",
               "sales_ready_forms": ["demo"]},
    "tasks": {"sla": "4h"}}), {"user:jane@acme.example": JANE, "queue:Inbound": QUEUE})


def fill(i: int, form: str = "newsletter", **fields: str) -> Response:
    return Response(f"conv-{i}", form, 1_700_000_000_000 + i * 60_000, BOB,
                    {"Email": BOB, "LastName": "[not provided]", "Company": "[not provided]", **fields},
                    f"701{i}", "Responded", contact_fields={"Email": BOB, **fields})


def shaped(method: Method, match: Match, fills: list[Response], current=None, **kw):
    decisions = decide_all(method, fills, {BOB: match}, RunMemory(), **kw)
    plan = plan_batch(decisions, {}, {})
    return shape(plan, Shaping(MAPPING, ROUTING, current or {}, kw.get("accounts") or {},
                               now_ms=1_700_000_000_000))


def test_bobs_fills_under_hybrid_fold_into_his_new_lead_before_it_is_written():
    plan = shaped(Method.HYBRID, Match(BOB), [fill(1), fill(2, Title="CTO"), fill(3, Phone="555"),
                                              fill(4, Title="CEO")])
    (lead,) = plan.leads
    assert (lead.fields["Title"], lead.fields["Phone"], lead.fields["OwnerId"],
            lead.fields["Status"]) == ("CTO", "555", JANE, "Open - Not Contacted")
    assert plan.updates == [] and plan.tasks == []
    assert dict(plan.steps[1].changes) == {"Title": (None, "CTO")}
    assert plan.steps[3].changes == {}                  # fill_blank: CTO stays


def test_an_existing_lead_gets_blanks_filled_once_per_batch_and_moves_up_at_the_demo_form():
    current = {LEAD.id: {"Id": LEAD.id, "Title": None, "Phone": "111", "LastName": "[not provided]",
                         "Status": "Open - Not Contacted", "OwnerId": QUEUE}}
    plan = shaped(Method.UNIQUE, Match(BOB, lead=LEAD), [fill(1, Title="CTO", LastName="Smith"),
                                                         fill(2, "demo", Phone="222")], current)
    (update,) = plan.updates
    assert update.fields == {"Title": "CTO", "LastName": "Smith", "Phone": "222",
                             "Status": "Working - Contacted", "OwnerId": JANE}
    assert update.conversion_ids == ["conv-1", "conv-2"]
    (task,) = plan.tasks
    assert task.fields["OwnerId"] == JANE and task.who.id == LEAD.id


def test_a_reps_lead_keeps_its_owner_and_status():
    current = {LEAD.id: {"Id": LEAD.id, "Title": "VP", "Status": "Working - Contacted", "OwnerId": JANE}}
    plan = shaped(Method.HYBRID, Match(BOB, lead=LEAD), [fill(1, "demo", Title="Intern")], current)
    assert plan.updates == []


def test_unique_new_person_at_a_known_account_gets_a_contact_owned_by_the_account_owner():
    acme = AccountMatch("001000000000001AAA", "Acme", JANE, "domain")
    plan = shaped(Method.UNIQUE, Match(BOB), [fill(1, Title="CTO"), fill(2, Title="CEO")],
                  accounts={BOB: acme}, new_person="contact")
    assert [s.decision.action for s in plan.steps] == [Action.CREATE_CONTACT, Action.ATTACH_CONTACT]
    (contact,) = plan.contacts
    assert contact.fields == {"Email": BOB, "Title": "CTO", "LastName": "[not provided]",
                              "AccountId": acme.account_id, "OwnerId": JANE}
    assert plan.leads == [] and len(plan.members) == 2
    assert plan.steps[0].enrichment.to_json()["account"] == {"id": acme.account_id, "name": "Acme", "how": "domain"}


def test_the_account_changes_nothing_under_hybrid_or_with_new_person_lead():
    acme = AccountMatch("001000000000001AAA", "Acme", JANE, "domain")
    for method, new_person in ((Method.HYBRID, "contact"), (Method.UNIQUE, "lead")):
        plan = shaped(method, Match(BOB), [fill(1)], accounts={BOB: acme}, new_person=new_person)
        assert [s.decision.action for s in plan.steps] == [Action.CREATE_LEAD]


def test_a_lead_created_earlier_in_the_batch_moves_up_at_the_demo_form():
    plan = shaped(Method.HYBRID, Match(BOB), [fill(1), fill(2, "demo")])
    (lead,) = plan.leads
    assert lead.fields["Status"] == "Working - Contacted"
    assert plan.steps[1].changes["Status"] == ("Open - Not Contacted", "Working - Contacted")
    (task,) = plan.tasks
    assert task.who.new_lead_of == "conv-1" and task.fields["OwnerId"] == JANE
