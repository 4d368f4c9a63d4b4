"""``mappings check``: a mapping against the org's describe, from the sandbox, line by line;
and the command as an admin runs it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.config.settings import settings_from_dict
from connector.config.mapping_file import parse_mapping
from connector.core.mapping_check import Problem, check_mapping, has_errors
from connector.adapters.salesforce.client import SalesforceClient
from connector.sandbox import Sandbox
from connector.core.schema import ObjectSchema, schema_from_describe, schema_from_describes
from sync_helpers import Org

ROOT = Path(__file__).resolve().parent.parent

BAD = """\
[defaults]
LeadSource = "Webinar"
Status = "Hot to trot"
IsConverted = true
Nope__c = "x"

[fields.email]
lead = "Email"
contact = "Email"

[fields.country]
lead = "Country"
contact = "MailingCountry"

[fields.lifecyclestage]
lead = "Rating"
map = { hot = "Hot", warm = "Tepid" }

[fields.firstname]
lead = "FirstNam"

[fields.numemployees]
lead = "NumberOfEmployees"
transforms = ["title"]

[fields.converted]
lead = "IsConverted"

[fields.status]
lead = "Status"

[fields.name]
lead = "Name"
rule = "on_create_only"

[fields.off]
lead = "Nonexistent__c"
rule = "never"
"""


def describe(sandbox: Sandbox) -> dict:
    settings = settings_from_dict({
        "method": "unique", "salesforce": {"instance_url": sandbox.url, "access_token": sandbox.token},
        "hubspot": {"base_url": sandbox.url, "access_token": sandbox.token},
        "state": {"path": "unused.db"}, "campaigns": [{"form_id": "f", "campaign_id": "c"}]}, env={})
    return SalesforceClient(settings.salesforce).describe(["Lead", "Contact"])


def test_schema_from_the_sandbox_describe(sandbox):
    sandbox.app.salesforce.set_state_country_picklists(True)
    schema = schema_from_describes(describe(sandbox))
    lead = schema["Lead"]
    assert lead.name == "Lead" and lead.field("firstname").length == 40
    assert lead.field("Email").type == "email" and not lead.field("IsConverted").createable
    state = lead.field("StateCode")
    assert state.is_picklist and state.restricted and state.controller == "CountryCode"
    assert all(v.valid_for for v in state.picklist)
    assert schema["Contact"].field("MailingCountryCode").is_picklist


def test_the_default_mapping_is_clean_against_the_sandbox_org(sandbox):
    from connector.config.mapping_file import load_mapping
    mapping = load_mapping(ROOT / "mappings" / "default.toml")
    for picklists in (False, True):
        sandbox.app.salesforce.set_state_country_picklists(picklists)
        assert check_mapping(mapping, schema_from_describes(describe(sandbox))) == []


def test_problems_line_by_line(sandbox):
    sandbox.app.salesforce.set_state_country_picklists(True)
    problems = check_mapping(parse_mapping(BAD, "bad.toml"), schema_from_describes(describe(sandbox)))
    lines = [str(p) for p in problems]
    assert lines == [
        "line 2: defaults.LeadSource -> Lead.LeadSource: 'Webinar' is not a value of the picklist; use one "
        "of 'Web', 'Phone Inquiry', 'Partner Referral', 'Purchased List', 'Other' (warning)",
        "line 3: defaults.Status -> Lead.Status: 'Hot to trot' is not a value of the restricted picklist; "
        "use one of 'Open - Not Contacted', 'Working - Contacted', 'Closed - Converted', "
        "'Closed - Not Converted'",
        "line 4: defaults.IsConverted -> Lead.IsConverted: Lead.IsConverted is set by lead conversion only",
        "line 5: defaults.Nope__c -> Lead.Nope__c: Lead has no field Nope__c",
        "line 11: fields.country.contact -> Contact.MailingCountry: restricted picklist (State and "
        "Country/Territory Picklists: only MailingCountryCode's names); add transforms = [\"country\"]",
        "line 11: fields.country.lead -> Lead.Country: restricted picklist (State and Country/Territory "
        "Picklists: only CountryCode's names); add transforms = [\"country\"]",
        "line 15: fields.lifecyclestage.lead -> Lead.Rating: map value 'Tepid' (for 'warm') is not in the "
        "picklist; use one of 'Hot', 'Warm', 'Cold'",
        "line 19: fields.firstname.lead -> Lead.FirstNam: Lead has no field FirstNam; did you mean FirstName?",
        "line 22: fields.numemployees.lead -> Lead.NumberOfEmployees: a number field (int); transforms "
        "['title'] make text, remove them",
        "line 26: fields.converted.lead -> Lead.IsConverted: Lead.IsConverted is set by lead conversion only",
        "line 29: fields.status.lead -> Lead.Status: Lead Status is not a form's to write: it is the reps' "
        "working stage; give a new Lead its first status with [defaults] Status = \"...\" or "
        "[routing.stages]",
        "line 32: fields.name.lead -> Lead.Name: Lead.Name is read-only (not createable); remove it or set "
        "rule = \"never\"",
    ]
    assert has_errors(problems) and [p.line for p in problems] == sorted(p.line for p in problems)


def _lead(**fields: dict) -> dict:
    base = {"Email": {"type": "email", "length": 80}}
    return {"name": "Lead", "fields": [{"name": n, "createable": True, "updateable": True, **f}
                                       for n, f in {**base, **fields}.items()]}


@pytest.mark.parametrize("entry, field, words, level", [
    ('lead = "Rating"\ntransforms = ["map"]\nmap = { a = "A" }',
     {"type": "picklist", "restrictedPicklist": True, "picklistValues": [{"value": "A", "label": "A"}]},
     'answers the map does not list are dropped; add "*"', "warning"),
    ('lead = "Rating"\nrule = "overwrite"', {"type": "string", "length": 80, "updateable": False},
     'cannot be updated; use rule = "on_create_only"', "error"),
    ('lead = "Rating"\nrule = "on_create_only"', {"type": "string", "length": 255, "updateable": False},
     None, None),
    ('lead = "Rating"', {"type": "string", "length": 30}, 'holds 30 characters; longer answers are cut', "warning"),
    ('lead = "Rating__c"\ntransforms = ["truncate"]', {"type": "string", "length": 30}, None, None),
    ('lead = "Rating"', {"type": "date"}, "a date field cannot take a form value", "error"),
    ('lead = "Rating"', {"type": "boolean"}, "a checkbox; map the form's answers to true/false", "error"),
    ('lead = "Rating"\nmap = { yes = "true", "*" = "false" }', {"type": "boolean"}, None, None),
    ('lead = "Rating"\nmap = { many = "lots" }', {"type": "double"}, "map values ['lots'] are not numbers", "error"),
])
def test_check_table(entry, field, words, level):
    name = "Rating__c" if "Rating__c" in entry else "Rating"
    mapping = parse_mapping(f'[fields.email]\nlead = "Email"\n\n[fields.x]\n{entry}\n')
    problems = check_mapping(mapping, {"Lead": schema_from_describe(_lead(**{name: field}))})
    if words is None:
        assert problems == []
    else:
        assert len(problems) == 1, problems
        assert problems[0].line == 4 and words in problems[0].message and problems[0].level == level


def test_two_form_fields_on_one_salesforce_field_is_a_warning():
    mapping = parse_mapping('[fields.email]\nlead = "Email"\n[fields.a]\nlead = "Phone"\n[fields.b]\nlead = "Phone"\n')
    problems = check_mapping(mapping, {"Lead": schema_from_describe(_lead(Phone={"type": "phone", "length": 40}))})
    assert problems == [Problem(5, "fields.b.lead -> Lead.Phone",
                                "also mapped from fields.a (line 3); the later answer wins", "warning")]


# -- the command -------------------------------------------------------------------------

@pytest.fixture
def org(tmp_path):
    with Sandbox(token="tok-mappings-check") as sandbox:
        o = Org(sandbox, tmp_path / "leadsync.db")
        o.add_forms(1)
        yield o


def test_cli_check_clean_then_with_problems(org, tmp_path):
    runner = CliRunner()
    config = org.write_config(tmp_path / "c.toml", sync={"mapping": str(ROOT / "mappings" / "default.toml")})
    result = runner.invoke(main, ["mappings", "check", "--config", str(config)], env=org.env())
    assert result.exit_code == 0, result.output
    assert "OK against the org's Lead and Contact" in result.output

    (tmp_path / "bad.toml").write_text(BAD)
    config = org.write_config(tmp_path / "c2.toml", sync={"mapping": "bad.toml"})
    result = runner.invoke(main, ["mappings", "check", "--config", str(config)], env=org.env())
    assert result.exit_code == 3, result.output
    assert "bad.toml: line 19: fields.firstname.lead -> Lead.FirstNam: Lead has no field FirstNam" in result.output
    assert "error(s)" in result.output and org.sandbox.token not in result.output

    result = runner.invoke(main, ["mappings", "check", "--config", str(config), "--json"], env=org.env())
    assert result.exit_code == 3
    report = json.loads(result.output)
    assert report["ok"] is False and report["mapping"].endswith("bad.toml")
    assert {"line": 19, "where": "fields.firstname.lead -> Lead.FirstNam",
            "message": "Lead has no field FirstNam; did you mean FirstName?", "level": "error"} in report["problems"]


def test_cli_check_a_broken_file_is_exit_2_with_the_line(org, tmp_path):
    (tmp_path / "broken.toml").write_text('[fields.email]\nlead = "Email"\n\n[fields.x]\nlead = "Title"\nrule = "always"\n')
    config = org.write_config(tmp_path / "c.toml", sync={"mapping": "broken.toml"})
    result = CliRunner().invoke(main, ["mappings", "check", "--config", str(config)], env=org.env())
    assert result.exit_code == 2
    assert "fields.x.rule" in result.output and "line 6" in result.output and "unknown rule 'always'" in result.output


# -- the config's [routing.stages] against the Lead -----------------------------------------------

@pytest.mark.parametrize("stages, expected", [
    ({"sales_ready": "Working - Contacted", "nurture": "Open - Not Contacted"}, []),
    ({"sales_ready": "Working - Contacted", "date_field": "ConvertedDate"},
     ["routing.stages.date_field -> Lead.ConvertedDate: Lead.ConvertedDate is read-only; "
      "pick a writable date field"]),
    ({"sales_ready": "Hot"},
     ["routing.stages.sales_ready -> Lead.Status: 'Hot' is not a Lead Status in this org; use one of "
      "'Open - Not Contacted', 'Working - Contacted', 'Closed - Converted', 'Closed - Not Converted'"]),
    ({"sales_ready": "working - contacted"},
     ["routing.stages.sales_ready -> Lead.Status: 'working - contacted' differs in case from the "
      "picklist's 'Working - Contacted'; write it as the org does (warning)"]),
    ({"sales_ready": "Working - Contacted", "date_field": "Company"},
     ["routing.stages.date_field -> Lead.Company: Lead.Company is a string field, not a date"]),
    ({"sales_ready": "Working - Contacted", "date_field": "Sales_Ready_Date__c"},
     ["routing.stages.date_field -> Lead.Sales_Ready_Date__c: Lead has no field Sales_Ready_Date__c"]),
])
def test_routing_stages_against_the_lead(sandbox, stages, expected):
    from connector.core.mapping_check import check_routing
    from connector.config.routing import parse_routing

    routing = parse_routing({"score_field": "score", "stages": {"sales_ready_score": 80, **stages}})
    problems = check_routing(routing, schema_from_describes(describe(sandbox))["Lead"])
    assert [str(p) for p in problems] == expected


def test_routing_without_stages_or_describe_has_nothing_to_check(sandbox):
    from connector.core.mapping_check import check_routing
    from connector.config.routing import parse_routing

    lead = schema_from_describes(describe(sandbox))["Lead"]
    assert check_routing(parse_routing(None), lead) == []
    assert check_routing(parse_routing({"score_field": "score",
                                        "stages": {"sales_ready": "Hot", "sales_ready_score": 80}}), None) == []


def test_cli_check_reports_a_stage_the_org_lacks_from_the_config_file(org, tmp_path):
    config = org.write_config(tmp_path / "c.toml", sync={"mapping": str(ROOT / "mappings" / "default.toml")})
    config.write_text(config.read_text() + '\n[routing]\nscore_field = "score"\n'
                      '[routing.stages]\nsales_ready = "Hot"\nsales_ready_score = 80\n')
    result = CliRunner().invoke(main, ["mappings", "check", "--config", str(config)], env=org.env())
    assert result.exit_code == 3, result.output
    assert f"{config}: routing.stages.sales_ready -> Lead.Status: 'Hot' is not a Lead Status" in result.output
    result = CliRunner().invoke(main, ["mappings", "check", "--config", str(config), "--json"], env=org.env())
    report = json.loads(result.output)
    assert report["ok"] is False and report["problems"] == []
    assert report["routing"]["config"] == str(config)
    assert [p["where"] for p in report["routing"]["problems"]] == ["routing.stages.sales_ready -> Lead.Status"]


# -- the config's [routing.tasks] against the Task ------------------------------------------------

def describe_task(sandbox: Sandbox, field: Any = "default") -> ObjectSchema:
    """Task's describe from the sandbox, its response-id field as the dataset defines it
    ("default": External ID and Unique; None: deleted)."""
    if field != "default":
        sandbox.app.load({"salesforce": {"schema": {"Task": {"Leadsync_Response_Id__c": field}}}})
    settings = settings_from_dict({
        "method": "unique", "salesforce": {"instance_url": sandbox.url, "access_token": sandbox.token},
        "hubspot": {"base_url": sandbox.url, "access_token": sandbox.token},
        "state": {"path": "unused.db"}, "campaigns": [{"form_id": "f", "campaign_id": "c"}]}, env={})
    return schema_from_describes(SalesforceClient(settings.salesforce).describe(["Task"]))["Task"]


@pytest.mark.parametrize("field, expected", [
    ("default", []),                                  # External ID and Unique: upserted
    ({"type": "string", "unique": True}, []),         # plain but indexed: looked up on replays
    ({"type": "string"},
     ["routing.tasks -> Task.Leadsync_Response_Id__c: not an External ID and not Unique, so not "
      "indexed: a replay's lookup scans the org's Tasks; check External ID (or Unique) (warning)"]),
    (None,
     ["routing.tasks -> Task.Leadsync_Response_Id__c: Task has no field Leadsync_Response_Id__c: "
      "a reply lost on a Task write can leave a second Task; add Text(255) Leadsync_Response_Id "
      "to Activity (Task) with External ID and Unique, editable by the integration user (warning)"]),
])
def test_routing_tasks_against_the_task(sandbox, field, expected):
    from connector.core.mapping_check import check_task_key
    from connector.config.routing import parse_routing

    routing = parse_routing({"score_field": "score", "tasks": {"sla": "4h"},
                             "stages": {"sales_ready": "Working - Contacted", "sales_ready_score": 80}})
    assert [str(p) for p in check_task_key(routing, describe_task(sandbox, field))] == expected
    assert check_task_key(parse_routing(None), None) == []      # no Tasks, nothing to check


def test_cli_check_warns_when_tasks_cannot_be_kept_to_one(org, tmp_path):
    org.sandbox.app.load({"salesforce": {"schema": {"Task": {"Leadsync_Response_Id__c": None}}}})
    # the load replaced the org: its campaigns again, or the check names them missing
    org.campaigns[:] = [org.sf.insert("Campaign", {"Name": f"Campaign {i}", "IsActive": True})
                        for i in range(len(org.forms))]
    config = org.write_config(tmp_path / "c.toml", sync={"mapping": str(ROOT / "mappings" / "default.toml")})
    config.write_text(config.read_text() + '\n[routing]\nscore_field = "score"\n'
                      '[routing.stages]\nsales_ready = "Working - Contacted"\nsales_ready_score = 80\n'
                      '[routing.tasks]\nsla = "4h"\n')
    result = CliRunner().invoke(main, ["mappings", "check", "--config", str(config)], env=org.env())
    assert result.exit_code == 0, result.output              # a warning: the sync still works
    assert f"{config}: routing.tasks -> Task.Leadsync_Response_Id__c: Task has no field" in result.output
