"""Routing and hand-off as tables: who owns a new Lead, the stage's Lead Status (up only),
and the rep's follow-up Task with its due time (seed 002, points 3 and 4). Pure: no server."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from connector.errors import ConfigError
from connector.core.model import Response
from connector.config.routing import parse_routing, parse_sla
from connector.core.enrich.owners import (OwnerChoice, owner_names, reassign_existing, route,
                                          with_owner_ids_or_default,
                                          split_owner_names, with_owner_ids)
from connector.core.enrich.routing import Routing, RoutingFacts, describe_routing, facts_from
from connector.core.enrich.stages import NURTURE, SALES_READY, stage_for, status_change, status_fields
from connector.core.enrich.tasks import task_for, task_key, tasks_found
from connector.core.geo import country_key, state_key
from connector.core.ids import to_id18
from connector.core.schema import ObjectSchema, schema_from_describe

DEMO = "form-demo"            # "request a demo": sales-ready
WEBINAR = "form-webinar"
EBOOK = "form-ebook"
FORMS = {DEMO, WEBINAR, EBOOK}

JANE = to_id18("005000000000011")
OMAR = to_id18("005000000000012")
LIN = to_id18("005000000000013")
MANAGER = to_id18("005000000000014")
QUEUE = to_id18("00G000000000001")
IDS = {"user:jane@acme.com": JANE, "user:omar@acme.com": OMAR, "user:lin@acme.com": LIN,
       "user:manager@acme.com": MANAGER, "queue:Inbound_Leads": QUEUE}


def ms(text: str) -> int:
    """'2024-03-01T10:00' (UTC) -> epoch milliseconds, so the arithmetic below reads plainly."""
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp() * 1000)


def table(**over):
    base = {
        "mode": "rules",
        "default_owner": "queue:Inbound_Leads",
        "score_field": "hs_score",
        "rules": [
            {"owner": "user:jane@acme.com", "form": [DEMO], "domain": ["acme.com"]},
            {"owner": "user:omar@acme.com", "country": ["DE", "Austria", "CH"]},
            {"owner": "user:lin@acme.com", "state": ["California"], "company": ["globex"]},
            {"owner": "user:jane@acme.com", "min_score": 60},
        ],
        "stages": {"nurture": "Open - Not Contacted", "sales_ready": "Working - Contacted",
                   "date_field": "Status_Changed_On__c", "sales_ready_forms": [DEMO],
                   "sales_ready_score": 80},
        "tasks": {"sla": "4h", "subject": "Follow up: {form} from {email}", "priority": "High",
                  "owner": "user:manager@acme.com"},
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def routing(**over) -> Routing:
    return with_owner_ids(parse_routing(table(**over), forms=FORMS), IDS)


def facts(form=WEBINAR, email="pat@example.org", country=None, state=None, company=None,
          score=None) -> RoutingFacts:
    return RoutingFacts(form, email, country, state, company, score)


def response(form=DEMO, email="pat@acme.com", submitted="2024-03-01T10:00", score="85",
             **lead) -> Response:
    fields = {"LastName": "Pat", "FirstName": "Lee", "Company": "Acme GmbH", "Email": email, **lead}
    values = {"email": email, "firstname": "Lee", "message": "Call me", "hs_score": score}
    return Response(f"conv-{form}", form, ms(submitted), email, fields, "701000000000001AAA",
                    "Responded", form_values={k: v for k, v in values.items() if v is not None})


# -- route: one table per condition ---------------------------------------------------------

ROUTE_TABLE = [
    # facts, owner, rule index (None: default), why
    (facts(DEMO, "pat@acme.com"), JANE, 0, "rule 1 (form form-demo, domain acme.com)"),
    (facts(DEMO, "pat@eu.acme.com"), JANE, 0, "rule 1 (form form-demo, domain eu.acme.com under acme.com)"),
    (facts(DEMO, "pat@notacme.com"), QUEUE, None, "default owner (no rule matched)"),
    (facts(WEBINAR, "pat@acme.com"), QUEUE, None, "default owner (no rule matched)"),
    (facts(country="DE"), OMAR, 1, "rule 2 (country DE)"),
    (facts(country="Germany"), OMAR, 1, "rule 2 (country Germany)"),
    (facts(country="deutschland"), OMAR, 1, "rule 2 (country deutschland)"),
    (facts(country="AT"), OMAR, 1, "rule 2 (country AT)"),
    (facts(country="Switzerland"), OMAR, 1, "rule 2 (country Switzerland)"),
    (facts(country="France"), QUEUE, None, "default owner (no rule matched)"),
    (facts(state="CA", company="Globex Corp"), LIN, 2, "rule 3 (state CA, company Globex Corp ~ globex)"),
    (facts(state="california", company="GLOBEX"), LIN, 2, "rule 3 (state california, company GLOBEX ~ globex)"),
    (facts(state="CA", company="Initech"), QUEUE, None, "default owner (no rule matched)"),
    (facts(state="NY", company="Globex"), QUEUE, None, "default owner (no rule matched)"),
    (facts(state="CA"), QUEUE, None, "default owner (no rule matched)"),
    (facts(score=60), JANE, 3, "rule 4 (score 60 >= 60)"),
    (facts(score=59.5), QUEUE, None, "default owner (no rule matched)"),
    (facts(score=None), QUEUE, None, "default owner (no rule matched)"),
    # first match wins: a German demo request from acme.com with a high score is rule 1's
    (facts(DEMO, "x@acme.com", country="DE", score=99), JANE, 0, "rule 1 (form form-demo, domain acme.com)"),
    (facts(country="DE", score=99), OMAR, 1, "rule 2 (country DE)"),
]


@pytest.mark.parametrize("fact,owner,rule,why", ROUTE_TABLE)
def test_route_table(fact, owner, rule, why):
    choice = route(routing(), fact)
    assert choice == OwnerChoice(owner, rule, why, choice.owner)
    assert choice.owner in {"user:jane@acme.com", "user:omar@acme.com", "user:lin@acme.com",
                            "queue:Inbound_Leads"}


def test_no_match_and_no_default_is_none_the_lead_stays_with_the_integration_user():
    assert route(routing(default_owner=None), facts(country="France")) is None


@pytest.mark.parametrize("mode", ["assignment_rules", "none"])
def test_other_modes_route_nothing(mode):
    r = parse_routing({"mode": mode}, forms=FORMS)
    assert route(r, facts(DEMO, "a@acme.com")) is None
    assert r.auto_assign is (mode == "assignment_rules")


def test_routing_off_by_default():
    assert parse_routing(None) == Routing()
    assert parse_routing({}) == Routing()
    assert route(Routing(), facts()) is None


def test_named_rule_and_raw_ids():
    r = parse_routing({"mode": "rules", "rules": [
        {"name": "DACH", "owner": "005000000000011", "country": "DE"},
        {"owner": "00G000000000001AAA"},
    ]})
    assert owner_names(r) == set()          # Ids need no lookup
    assert route(r, facts(country="de")) == OwnerChoice(JANE, 0, "rule 'DACH' (country de)",
                                                        JANE)
    assert route(r, facts()).why == "rule 2 (no conditions)"


def test_domain_matching_is_by_label_not_substring():
    r = with_owner_ids(parse_routing({"mode": "rules", "rules": [
        {"owner": "user:jane@acme.com", "domain": ["@Acme.com", "www.initech.io"]}]}), IDS)
    hits = {e: route(r, facts(email=e)) is not None
            for e in ["a@acme.com", "a@mail.eu.acme.com", "a@ACME.COM", "a@notacme.com",
                      "a@acme.com.evil.io", "a@initech.io"]}
    assert hits == {"a@acme.com": True, "a@mail.eu.acme.com": True, "a@ACME.COM": True,
                    "a@notacme.com": False, "a@acme.com.evil.io": False, "a@initech.io": True}


@pytest.mark.parametrize("text,key", [
    ("DE", "DE"), ("de", "DE"), ("Germany", "DE"), ("DEU", "DE"), (" germany ", "DE"),
    ("UK", "GB"), ("United Kingdom", "GB"), ("England", "GB"), ("U.S.A.", "US"),
    ("United States of America", "US"), ("Österreich", "AT"), ("the Netherlands", "NL"),
    ("Atlantis", "atlantis"),
])
def test_country_key(text, key):
    assert country_key(text) == key


@pytest.mark.parametrize("text,key", [("CA", "US-CA"), ("California", "US-CA"), ("new york", "US-NY"),
                                      ("Québec", "CA-QC"), ("Bavaria", "bavaria")])
def test_state_key(text, key):
    """A known state's key carries its country (WA is US-WA or AU-WA); see tests/test_geo.py."""
    assert state_key(text) == key


def test_country_aliases_from_config_extend_the_table():
    r = with_owner_ids(parse_routing({"mode": "rules", "country_aliases": {"Allemagne": "de"},
                                      "rules": [{"owner": "user:omar@acme.com", "country": "DE"}]}), IDS)
    assert route(r, facts(country="allemagne")).owner_id == OMAR


def test_an_injected_normaliser_is_used_for_rules_and_responses_alike():
    """The mapping's ISO tables can stand in for the built-in one; unknowns fall back to it."""
    iso = {"bundesrepublik deutschland": "de", "bayern": "BY"}
    r = with_owner_ids(parse_routing(
        {"mode": "rules", "rules": [{"owner": "user:omar@acme.com", "country": "Bundesrepublik Deutschland",
                                    "state": "BY"}]},
        country=lambda t: iso.get(t.casefold()), state=lambda t: iso.get(t.casefold())), IDS)
    assert r.rules[0].countries == ("DE",) and r.rules[0].states == ("BY",)
    assert route(r, facts(country="Germany", state="Bayern")).owner_id == OMAR
    assert route(r, facts(country="Germany", state="Berlin")) is None


# -- facts from a response ------------------------------------------------------------------

def test_facts_from_response():
    f = facts_from(response(Country="Germany", State="BY"), "HS_Score")
    assert f == RoutingFacts(DEMO, "pat@acme.com", "Germany", "BY", "Acme GmbH", 85.0)
    assert f.domain == "acme.com"


@pytest.mark.parametrize("raw,score", [("85", 85.0), (" 7.5 ", 7.5), ("high", None), ("", None),
                                       ("nan", None), ("inf", None), (None, None)])
def test_score_parsing(raw, score):
    assert facts_from(response(score=raw), "hs_score").score == score


def test_placeholder_company_is_no_company_and_form_values_are_a_fallback():
    resp = response(Company="[not provided]")
    resp = Response(resp.conversion_id, resp.form_id, resp.submitted_at, resp.email,
                    {**resp.lead_fields}, resp.campaign_id, resp.member_status,
                    form_values={**resp.form_values, "country": "Austria"})
    f = facts_from(resp, None)
    assert f.company is None and f.score is None and f.country == "Austria"


# -- config errors name their keys ----------------------------------------------------------

CONFIG_ERRORS = [
    ({"mode": "round_robin"}, "routing.mode"),
    ({"colour": "red"}, "routing.colour"),
    ({"rules": [{"owner": "user:jane@acme.com", "form": [DEMO]}], "mode": None}, "routing.rules"),
    ({"mode": "assignment_rules", "rules": None, "stages": None, "tasks": None}, "routing.default_owner"),
    ({"rules": [], "default_owner": None}, "routing.mode"),
    ({"rules": [{"form": [DEMO]}]}, "routing.rules[0].owner"),
    ({"rules": [{"owner": "jane"}]}, "routing.rules[0].owner"),
    ({"rules": [{"owner": "user:jane"}]}, "routing.rules[0].owner"),
    ({"rules": [{"owner": "queue:Inbound Leads"}]}, "routing.rules[0].owner"),
    ({"rules": [{"owner": "001000000000001"}]}, "routing.rules[0].owner"),
    ({"rules": [{"owner": "user:jane@acme.com", "form": ["form-unknown"]}]}, "routing.rules[0].form"),
    ({"rules": [{"owner": "user:jane@acme.com", "country": []}]}, "routing.rules[0].country"),
    ({"rules": [{"owner": "user:jane@acme.com", "country": ["DE", 4]}]}, "routing.rules[0].country[1]"),
    ({"rules": [{"owner": "user:jane@acme.com", "domain": "bob@acme.com"}]}, "routing.rules[0].domain"),
    ({"rules": [{"owner": "user:jane@acme.com", "domain": "acme"}]}, "routing.rules[0].domain"),
    ({"rules": [{"owner": "user:jane@acme.com", "min_score": "60"}]}, "routing.rules[0].min_score"),
    ({"rules": [{"owner": "user:jane@acme.com", "min_score": 60}], "score_field": None,
      "stages": None, "tasks": None}, "routing.rules[0].min_score"),
    ({"rules": [{"owner": "user:jane@acme.com", "teritory": "EMEA"}]}, "routing.rules[0].teritory"),
    ({"rules": [{"owner": "user:jane@acme.com"}, {"owner": "user:omar@acme.com", "country": "DE"}]},
     "routing.rules[0]"),
    ({"rules": {"owner": "user:jane@acme.com"}}, "routing.rules"),
    ({"timezone": "Mars/Olympus"}, "routing.timezone"),
    ({"country_aliases": {"Allemagne": "DEU"}}, "routing.country_aliases.Allemagne"),
    ({"stages": {"sales_ready": "Working"}}, "routing.stages"),
    ({"stages": {"sales_ready_forms": [DEMO]}}, "routing.stages.sales_ready"),
    ({"stages": {"sales_ready": "Working", "nurture": "working", "sales_ready_forms": [DEMO]}},
     "routing.stages.nurture"),
    ({"stages": {"sales_ready": "Working", "sales_ready_forms": ["nope"]}},
     "routing.stages.sales_ready_forms"),
    ({"stages": {"sales_ready": "Working", "sales_ready_forms": [DEMO], "date_field": "Changed On"}},
     "routing.stages.date_field"),
    ({"stages": {"sales_ready": "Working", "sales_ready_forms": [DEMO], "date_type": "time"}},
     "routing.stages.date_type"),
    ({"stages": {"sales_ready": "x" * 41, "sales_ready_forms": [DEMO]}}, "routing.stages.sales_ready"),
    ({"stages": None}, "routing.tasks"),
    ({"tasks": {"subject": "hi"}}, "routing.tasks.sla"),
    ({"tasks": {"sla": "soon"}}, "routing.tasks.sla"),
    ({"tasks": {"sla": "0m"}}, "routing.tasks.sla"),
    ({"tasks": {"sla": "4h", "subject": "Call {first_name}"}}, "routing.tasks.subject"),
    ({"tasks": {"sla": "4h", "subject": "Call {email"}}, "routing.tasks.subject"),
    ({"tasks": {"sla": "4h", "owner": "queue:Inbound_Leads"}}, "routing.tasks.owner"),
    ({"tasks": {"sla": "4h", "remind": True}}, "routing.tasks.remind"),
]


@pytest.mark.parametrize("over,key", CONFIG_ERRORS, ids=[k for _, k in CONFIG_ERRORS])
def test_config_errors_name_the_key(over, key):
    with pytest.raises(ConfigError) as err:
        parse_routing(table(**over), forms=FORMS)
    assert err.value.key == key
    assert str(err.value).startswith(f"{key}: ")


def test_form_ids_are_not_checked_when_no_forms_are_given():
    assert parse_routing(table(), forms=()).rules[0].forms == (DEMO,)


@pytest.mark.parametrize("text,seconds", [("5m", 300), ("4h", 14400), ("1d", 86400),
                                          ("1h30m", 5400), ("1h 30m", 5400), (90, 90)])
def test_sla(text, seconds):
    assert parse_sla(text, key="k") == seconds


# -- owner names -> Ids ---------------------------------------------------------------------

def test_owner_names_lists_what_the_run_must_look_up_once():
    r = parse_routing(table(), forms=FORMS)
    names = owner_names(r)
    assert names == {"user:jane@acme.com", "user:omar@acme.com", "user:lin@acme.com",
                     "user:manager@acme.com", "queue:Inbound_Leads"}
    assert split_owner_names(names) == (
        ["jane@acme.com", "lin@acme.com", "manager@acme.com", "omar@acme.com"], ["Inbound_Leads"])
    assert owner_names(with_owner_ids(r, IDS)) == set()


def test_usernames_compare_without_case_and_15_char_ids_become_18():
    r = parse_routing({"mode": "rules", "rules": [{"owner": "user:Jane@ACME.com"}]})
    assert owner_names(r) == {"user:jane@acme.com"}
    resolved = with_owner_ids(r, {"user:JANE@acme.com": "005000000000011"})
    assert resolved.rules[0].owner.id == JANE == "005000000000011AAA"


@pytest.mark.parametrize("missing,key,message", [
    ("user:omar@acme.com", "routing.rules[1].owner", "no active user with Username omar@acme.com"),
    ("queue:Inbound_Leads", "routing.default_owner", "no queue with DeveloperName Inbound_Leads"),
    ("user:manager@acme.com", "routing.tasks.owner", "no active user with Username manager@acme.com"),
])
def test_an_owner_without_an_id_is_a_config_error_naming_the_rule(missing, key, message):
    ids = {k: v for k, v in IDS.items() if k != missing}
    with pytest.raises(ConfigError) as err:
        with_owner_ids(parse_routing(table(), forms=FORMS), ids)
    assert err.value.key == key
    assert str(err.value) == f"{key}: {message}"


@pytest.mark.parametrize("gone,parked,falls_back", [
    # the default owner is gone: what no rule routes waits; rules' owners are unaffected
    ({"queue:Inbound_Leads"}, {"routing.default_owner": "no queue by that DeveloperName"}, {}),
    # a rule's owner is gone too: with no default to fall back to, its Leads wait as well
    ({"queue:Inbound_Leads", "user:omar@acme.com"},
     {"routing.default_owner": "no queue by that DeveloperName",
      "routing.rules[1].owner": "no active user by that Username"}, {}),
    # only a rule's owner is gone: it falls back to the default owner, nothing waits
    ({"user:omar@acme.com"}, {}, {"routing.rules[1].owner": "queue:Inbound_Leads"}),
])
def test_an_owner_with_nothing_to_fall_back_to_parks_only_its_leads(gone, parked, falls_back):
    ids = {k: v for k, v in IDS.items() if k not in gone}
    resolved, fallbacks = with_owner_ids_or_default(parse_routing(table(), forms=FORMS), ids)
    assert {f.key: f.default for f in fallbacks} == {**{k: "" for k in parked}, **falls_back}
    by_key = {"routing.default_owner": facts(country="France"),       # no rule matches
              "routing.rules[1].owner": facts(country="DE")}
    for key, why in parked.items():
        choice = route(resolved, by_key[key])
        assert choice is not None and choice.owner_id == "" and choice.paused == f"{key}: {why}"
        assert "@" not in choice.paused and "Inbound_Leads" not in choice.paused
    # Jane's rule is untouched whatever else is gone
    ok = route(resolved, facts(DEMO, email="pat@acme.com"))
    assert ok is not None and ok.owner_id == JANE and not ok.paused
    if not parked:
        assert route(resolved, facts(country="DE")).owner_id == QUEUE   # type: ignore[union-attr]


def test_a_task_owner_who_left_is_dropped_for_the_run_with_a_warning():
    """As when it is not set: a queue-owned Lead's Task goes to the integration user."""
    ids = {k: v for k, v in IDS.items() if k != "user:manager@acme.com"}
    resolved, fallbacks = with_owner_ids_or_default(parse_routing(table(), forms=FORMS), ids)
    assert resolved.tasks is not None and resolved.tasks.owner is None
    assert [str(f) for f in fallbacks] == [
        "routing.tasks.owner (user:manager@acme.com): no active user with Username "
        "manager@acme.com; Tasks for Leads in a queue are owned by the integration user until "
        "it is fixed"]
    assert route(resolved, facts(country="France")).owner_id == QUEUE   # type: ignore[union-attr]


def test_task_owner_resolving_to_a_queue_is_refused():
    with pytest.raises(ConfigError, match="queues cannot own Tasks"):
        with_owner_ids(parse_routing(table(), forms=FORMS), {**IDS, "user:manager@acme.com": QUEUE})


def test_route_before_resolution_is_a_wiring_bug():
    with pytest.raises(ValueError, match="with_owner_ids"):
        route(parse_routing(table(), forms=FORMS), facts(country="DE"))


# -- stages: sales-ready by form or score; status only moves up -----------------------------

@pytest.mark.parametrize("fact,stage", [
    (facts(DEMO), SALES_READY), (facts(WEBINAR, score=80), SALES_READY),
    (facts(WEBINAR, score=79.9), NURTURE), (facts(WEBINAR), NURTURE),
])
def test_stage_for(fact, stage):
    assert stage_for(routing(), fact) == stage


def test_no_stages_no_stage():
    assert stage_for(routing(stages=None, tasks=None), facts(DEMO)) is None


NURTURE_S, READY_S = "Open - Not Contacted", "Working - Contacted"
STATUS_TABLE = [
    # stage, current status (None: a new Lead), status to write
    (NURTURE, None, NURTURE_S),
    (SALES_READY, None, READY_S),
    (NURTURE, "", NURTURE_S),
    (SALES_READY, "  ", READY_S),
    (SALES_READY, NURTURE_S, READY_S),            # up
    (SALES_READY, "open - not contacted", READY_S),
    (NURTURE, READY_S, None),                     # never down
    (SALES_READY, READY_S, None),                 # already there
    (NURTURE, NURTURE_S, None),
    (SALES_READY, "Working", None),               # a rep's status stays
    (SALES_READY, "Unqualified", None),
    (NURTURE, "Closed - Converted", None),
    (None, None, None),
]


@pytest.mark.parametrize("stage,current,new", STATUS_TABLE)
def test_status_change_only_moves_up(stage, current, new):
    assert status_change(routing(), stage, current) == new


def test_without_a_nurture_status_nurture_writes_nothing():
    r = routing(stages={"sales_ready": READY_S, "sales_ready_forms": [DEMO]})
    assert status_change(r, NURTURE, None) is None
    assert status_change(r, SALES_READY, "Open") is None
    assert status_change(r, SALES_READY, None) == READY_S


def test_status_fields_stamp_the_date_of_the_change_from_the_submission():
    r = routing(timezone="America/Los_Angeles")
    at = ms("2024-03-01T05:00")                                  # 21:00 on Feb 29 in LA
    assert status_fields(r, SALES_READY, NURTURE_S, changed_at_ms=at) == {
        "Status": READY_S, "Status_Changed_On__c": "2024-02-29"}
    assert status_fields(r, NURTURE, READY_S, changed_at_ms=at) == {}
    dt = routing(stages={"sales_ready": READY_S, "sales_ready_forms": [DEMO],
                         "date_field": "Ready_At__c", "date_type": "datetime"})
    assert status_fields(dt, SALES_READY, None, changed_at_ms=at) == {
        "Status": READY_S, "Ready_At__c": "2024-03-01T05:00:00Z"}
    no_date = routing(stages={"sales_ready": READY_S, "sales_ready_forms": [DEMO]})
    assert status_fields(no_date, SALES_READY, None, changed_at_ms=at) == {"Status": READY_S}


@pytest.mark.parametrize("current,ready,new", [
    (QUEUE, True, JANE), (None, True, JANE), (OMAR, True, None), (QUEUE, False, None),
    (JANE, True, None),
])
def test_existing_leads_are_reassigned_only_out_of_a_queue_at_the_hand_off(current, ready, new):
    choice = OwnerChoice(JANE, 0, "rule 1", "user:jane@acme.com")
    assert reassign_existing(choice, current, became_sales_ready=ready) == new
    assert reassign_existing(None, QUEUE, became_sales_ready=True) is None


# -- the Task -------------------------------------------------------------------------------

def make_task(r=None, resp=None, owner=JANE, now="2024-03-01T10:05", history=(), why=""):
    return task_for(r or routing(), response=resp or response(), owner_id=owner,
                    who_id="00Q000000000001AAA", form_name="Request a demo", history=list(history),
                    now_ms=ms(now), why=why)


def test_task_fields_for_a_sales_ready_response():
    task = make_task(history=[(ms("2024-02-20T09:30"), "Webinar: pricing"),
                              (ms("2024-01-05T16:00"), "Ebook download")],
                     why="rule 1 (form form-demo, domain acme.com)")
    assert {k: v for k, v in task.items() if k != "Description"} == {
        "Subject": "Follow up: Request a demo from pat@acme.com",
        "WhoId": "00Q000000000001AAA",
        "OwnerId": JANE,
        "ActivityDate": "2024-03-01",
        "ReminderDateTime": "2024-03-01T14:00:00Z",      # 10:00 + 4h
        "IsReminderSet": True,
        "Priority": "High",
        "Status": "Not Started",
    }
    assert task["Description"].splitlines() == [
        "Request a demo submitted 2024-03-01 10:00 UTC by pat@acme.com.",
        "Routed by rule 1 (form form-demo, domain acme.com).",
        "Follow up by 2024-03-01 14:00 UTC.",
        "",
        "Form values:",
        "  email: pat@acme.com",
        "  firstname: Lee",
        "  message: Call me",
        "  hs_score: 85",
        "",
        "Earlier responses:",
        "  2024-01-05 16:00 UTC  Ebook download",
        "  2024-02-20 09:30 UTC  Webinar: pricing",
    ]


@pytest.mark.parametrize("submitted,sla,zone,date,reminder", [
    ("2024-03-01T10:00", "4h", "UTC", "2024-03-01", "2024-03-01T14:00:00Z"),
    ("2024-03-01T22:30", "4h", "UTC", "2024-03-02", "2024-03-02T02:30:00Z"),     # past midnight
    ("2024-02-28T23:00", "1h30m", "UTC", "2024-02-29", "2024-02-29T00:30:00Z"),  # leap day
    ("2024-12-31T23:59", "5m", "UTC", "2025-01-01", "2025-01-01T00:04:00Z"),     # new year
    ("2024-03-01T22:30", "4h", "America/New_York", "2024-03-01", "2024-03-02T02:30:00Z"),
    ("2024-03-01T20:00", "1d", "Asia/Tokyo", "2024-03-03", "2024-03-02T20:00:00Z"),
])
def test_due_time_is_the_sla_after_the_submission(submitted, sla, zone, date, reminder):
    r = routing(tasks={"sla": sla}, timezone=zone)
    task = make_task(r, response(submitted=submitted), now=submitted)
    assert (task["ActivityDate"], task["ReminderDateTime"]) == (date, reminder)


def test_a_late_sync_keeps_the_honest_due_date_and_reminds_now():
    task = make_task(resp=response(submitted="2024-03-01T10:00"), now="2024-03-03T08:00")
    assert task["ActivityDate"] == "2024-03-01"
    assert task["ReminderDateTime"] == "2024-03-03T08:00:00Z"
    assert "already past when leadsync synced it" in task["Description"]


def test_a_high_score_on_any_form_is_sales_ready_too():
    assert make_task(resp=response(form=WEBINAR, score="80")) is not None
    assert make_task(resp=response(form=WEBINAR, score="79")) is None
    assert make_task(resp=response(form=WEBINAR, score="n/a")) is None


def test_no_task_without_tasks_config():
    assert make_task(routing(tasks=None)) is None


@pytest.mark.parametrize("lead_owner,task_owner", [(JANE, JANE), (QUEUE, MANAGER), (None, MANAGER)])
def test_queues_cannot_own_tasks_so_the_configured_user_does(lead_owner, task_owner):
    assert make_task(owner=lead_owner)["OwnerId"] == task_owner


def test_without_a_task_owner_a_queue_routed_lead_leaves_the_task_to_its_creator():
    r = routing(tasks={"sla": "4h"})
    assert "OwnerId" not in make_task(r, owner=QUEUE)
    assert make_task(r, owner=None).keys() >= {"WhoId", "ActivityDate"}


def test_subject_placeholders_and_length():
    r = routing(tasks={"sla": "4h", "subject": "{name} at {company} ({score}) wants {form}"})
    assert make_task(r)["Subject"] == "Lee Pat at Acme GmbH (85) wants Request a demo"
    long = routing(tasks={"sla": "4h", "subject": "{company} " + "x" * 300})
    subject = make_task(long)["Subject"]
    assert len(subject) == 255 and subject.endswith("…")
    assert make_task(routing())["Priority"] == "High"
    assert make_task(routing(tasks={"sla": "4h", "priority": "Normal"}))["Priority"] == "Normal"


def test_history_lists_only_earlier_responses_oldest_first_and_is_capped():
    history = [(ms("2024-01-01T00:00") + i * 3_600_000, f"Form {i}") for i in range(25)]
    history.append((ms("2024-03-01T10:00"), "Request a demo"))     # this very response
    history.append((ms("2024-03-02T10:00"), "Later"))              # a later one, in a replay
    lines = make_task(history=history)["Description"].splitlines()
    listed = lines[lines.index("Earlier responses:") + 1:]
    assert listed[0] == "  ... 5 older ones not listed"
    assert [line.split("  ")[-1] for line in listed[1:]] == [f"Form {i}" for i in range(5, 25)]
    first = make_task(history=[])["Description"]
    assert "Earlier responses: none (first response)." in first


# -- describe -------------------------------------------------------------------------------

def test_describe_routing_is_one_line_for_dry_run():
    r = routing()
    resp = response()
    choice = route(r, facts_from(resp, r.score_field))
    stage = stage_for(r, facts_from(resp, r.score_field))
    task = make_task(r, resp)
    line = describe_routing(choice, stage, task)
    assert line == ("owner user:jane@acme.com by rule 1 (form form-demo, domain acme.com); "
                    "stage sales-ready; task (High) due 2024-03-01, reminder 2024-03-01T14:00:00Z")
    assert "\n" not in line
    assert describe_routing(None, NURTURE, None) == "stage nurture"
    assert describe_routing(None, None, None) == ""


# -- a Task written once: the response-id field on Task ------------------------------------------

def task_describe(**field) -> ObjectSchema:
    fields = [{"name": "Subject", "type": "combobox", "length": 255}]
    if field:
        fields.append({"name": "Leadsync_Response_Id__c", "type": "string", "length": 255,
                       "createable": True, "filterable": True, **field})
    return schema_from_describe({"name": "Task", "fields": fields})


@pytest.mark.parametrize("field, upsert, lookup, carried, why", [
    ({}, False, False, False, "Task has no field Leadsync_Response_Id__c"),
    ({"externalId": True, "unique": True}, True, False, True, "upsert on Task.Leadsync_Response_Id__c"),
    ({"externalId": False}, False, True, True, "looked up for replayed responses"),
    ({"type": "textarea", "length": 32768, "filterable": False}, False, False, False, "not a text field"),
    ({"type": "string", "filterable": False}, False, False, True, "cannot be filtered on"),
    ({"type": "double", "length": 0}, False, False, False, "not a text field"),
    ({"length": 20}, False, False, False, "not a text field of 36+ characters"),
    ({"externalId": True, "createable": False}, False, False, False, "read-only"),
])
def test_task_key_is_decided_from_the_describe(field, upsert, lookup, carried, why):
    key = task_key(task_describe(**field))
    assert (key.upsert, key.lookup, key.field is not None) == (upsert, lookup, carried)
    assert why in key.why


def test_task_key_uses_the_leads_external_id_name_and_needs_a_describe():
    assert task_key(None).field is None
    assert task_key(task_describe(externalId=True), "Other_Id__c").field is None
    assert task_key(task_describe(externalId=True), "leadsync_response_id__c").field == \
        "Leadsync_Response_Id__c"      # the org's spelling, found case-blind


def test_tasks_found_maps_response_ids_to_one_task_each():
    rows = [{"Id": "00T000000000002AAA", "Ext__c": "Conv-1"},
            {"Id": "00T000000000001AAA", "Ext__c": "conv-1"},
            {"Id": "00T000000000003AAA", "Ext__c": "conv-2"},
            {"Id": "00T000000000004AAA", "Ext__c": None}]
    assert tasks_found(rows, "Ext__c") == {"conv-1": "00T000000000001AAA",
                                           "conv-2": "00T000000000003AAA"}


def test_routing_stays_hashable_with_unusable_owners():
    """A Routing is a frozen value (hashable before the run's unusable owners were added)."""
    ids = {k: v for k, v in IDS.items() if k != "queue:Inbound_Leads"}
    resolved, _ = with_owner_ids_or_default(parse_routing(table(), forms=FORMS), ids)
    assert resolved.unusable and isinstance(hash(resolved), int)
    assert resolved != with_owner_ids(parse_routing(table(), forms=FORMS), IDS)
