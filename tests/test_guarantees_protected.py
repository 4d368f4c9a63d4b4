"""Issue 17 item 1: a run holds the mapping against the same rules as ``mappings check``.

A form field mapped onto ``OwnerId``, Lead ``Status`` or leadsync's exactly-once key ran
anyway (a form value reassigned a Lead and overwrote a rep's status). The rules that need no
org refuse such a mapping when it is loaded, for every command; the rules that need the
org's describe refuse it whenever a run reads the describe.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.config.mapping_file import MappingError, load_configured_mapping, parse_mapping
from connector.core.mapping_rules import Protected, check_static
from connector.sandbox import Sandbox
from sync_helpers import EXT, Org

MAPPING = """\
[fields.email]
lead = "Email"
contact = "Email"

[fields.lastname]
lead = "LastName"

[fields.company]
lead = "Company"
"""


def with_entry(entry: str) -> str:
    return MAPPING + "\n" + entry


@pytest.mark.parametrize("entry, words", [
    ('[fields.rep]\nlead = "OwnerId"', "the owner is decided by [routing]"),
    ('[fields.rep]\ncontact = "ownerid"\nrule = "overwrite"', "the owner is decided by [routing]"),
    ('[fields.stage]\nlead = "Status"\nrule = "overwrite"', "Lead Status is not a form's to write"),
    ('[fields.stage]\nlead = "Status"\nrule = "on_create_only"', "Lead Status is not a form's to write"),
    (f'[fields.ref]\nlead = "{EXT}"', "leadsync's exactly-once key"),
    ('[fields.ref]\nlead = "Id"', "kept by Salesforce"),
    ('[fields.who]\nlead = "CreatedById"', "kept by Salesforce"),
    ('[fields.done]\nlead = "IsConverted"', "set by lead conversion only"),
    ('[fields.acct]\ncontact = "AccountId"', "decided by [accounts]"),
])
def test_protected_targets_are_errors_on_their_line(entry, words):
    problems = check_static(parse_mapping(with_entry(entry), "m.toml"), Protected.of(None, stages=False))
    assert [p.level for p in problems] == ["error"], problems
    assert problems[0].line == 11 and words in problems[0].message


def test_what_stays_allowed():
    """``rule = "never"`` writes nothing; Status and OwnerId in [defaults] are the admin's
    constants; Contact has no Status of leadsync's; a key field with another name is free."""
    text = with_entry('[fields.rep]\nlead = "OwnerId"\nrule = "never"\n\n'
                      '[fields.stage]\ncontact = "Status__c"\n\n'
                      '[fields.ref]\nlead = "Ref__c"\n\n'
                      '[defaults]\nStatus = "Open - Not Contacted"\nOwnerId = "00G000000000001AAA"\n')
    assert check_static(parse_mapping(text), Protected.of("Other_Key__c", stages=True)) == []


def test_the_configured_key_and_the_stages_name_themselves():
    mapping = parse_mapping(with_entry('[fields.ref]\nlead = "My_Key__c"\n\n[fields.s]\nlead = "Status"'))
    problems = check_static(mapping, Protected.of("My_Key__c", stages=True))
    assert [p.line for p in problems] == [11, 14]
    assert "My_Key__c is leadsync's exactly-once key" in problems[0].message
    assert "[routing.stages] sets it" in problems[1].message


def test_defaults_may_not_forge_identity_conversion_or_the_key():
    mapping = parse_mapping(MAPPING + '\n[defaults]\nIsConverted = true\nCreatedDate = "2020-01-01"\n'
                            f'{EXT} = "x"\n')
    problems = check_static(mapping, Protected.of(None, stages=False))
    assert [(p.line, p.where.split(" ")[0]) for p in problems] == [
        (12, "defaults.IsConverted"), (13, "defaults.CreatedDate"), (14, f"defaults.{EXT}")]


# -- the run refuses what mappings check rejects ------------------------------------------

@pytest.fixture
def org(tmp_path):
    with Sandbox(token="tok-protected") as sandbox:
        o = Org(sandbox, tmp_path / "leadsync.db")
        o.add_forms(1)
        yield o


def test_sync_refuses_a_form_field_on_owner_id_before_any_write(org, tmp_path):
    (tmp_path / "m.toml").write_text(with_entry('[fields.rep]\nlead = "OwnerId"\nrule = "overwrite"'))
    config = org.write_config(tmp_path / "c.toml", method="unique", sync={"mapping": "m.toml"})
    org.fill(0, "ann@example.com", lastname="Ann", company="Acme", rep="005000000000099AAA")

    result = CliRunner().invoke(main, ["sync", "--config", str(config)], env=org.env())
    assert result.exit_code == 2, result.output
    assert "m.toml, line 11" in result.output and "Lead.OwnerId" in result.output
    assert org.leads() == [] and org.members() == []

    settings = org.settings(sync={"mapping": str(tmp_path / "m.toml")})
    with pytest.raises(MappingError) as err:
        load_configured_mapping(settings)
    assert err.value.line == 11 and err.value.key == "fields.rep.lead"


def test_mappings_check_lists_the_same_line(org, tmp_path):
    (tmp_path / "m.toml").write_text(with_entry('[fields.stage]\nlead = "Status"\nrule = "overwrite"\n'
                                                'map = { a = "Working - Contacted" }'))
    config = org.write_config(tmp_path / "c.toml", sync={"mapping": "m.toml"})
    result = CliRunner().invoke(main, ["mappings", "check", "--config", str(config), "--json"],
                                env=org.env())
    assert result.exit_code == 3, result.output
    problems = json.loads(result.output)["problems"]
    assert [(p["line"], p["where"], p["level"]) for p in problems] == [
        (11, "fields.stage.lead -> Lead.Status", "error")]
    assert "Lead Status is not a form's to write" in problems[0]["message"]

    result = CliRunner().invoke(main, ["sync", "--config", str(config)], env=org.env())
    assert result.exit_code == 2 and "line 11" in result.output


def test_a_run_that_reads_the_describe_refuses_what_the_org_rejects(org, tmp_path):
    """The country transform makes the run read Lead's describe; a field the org does not
    have then stops the run (exit 2, status ``config``) before any write, as mappings check
    says it; the cached describe is dropped, so the org's fix counts at the next run."""
    (tmp_path / "m.toml").write_text(with_entry('[fields.country]\nlead = "Country"\ntransforms = ["country"]\n\n'
                                                '[fields.size]\nlead = "Head_Count__c"'))
    org.fill(0, "bo@example.com", lastname="Bo", company="Acme", country="DE", size="12")
    settings = org.settings(sync={"mapping": str(tmp_path / "m.toml")})
    from connector.adapters.transport import RetryPolicy
    from connector.engine.wiring import Session

    with Session(settings, retry=RetryPolicy.fast()) as engine:
        report = engine.run()
        assert engine.state.cached("describe", 3600) is None
    assert report.status == "config" and report.exit_code == 2
    assert "line 15" in (report.error or "") and "Lead has no field Head_Count__c" in (report.error or "")
    assert org.leads() == [] and org.members() == []

    config = org.write_config(tmp_path / "c.toml", method="unique", sync={"mapping": "m.toml"})
    result = CliRunner().invoke(main, ["sync", "--config", str(config)], env=org.env())
    assert result.exit_code == 2, result.output
    assert org.leads() == []


def test_a_clean_mapping_still_runs(org, tmp_path):
    (tmp_path / "m.toml").write_text(with_entry('[fields.country]\nlead = "Country"\ntransforms = ["country"]'))
    org.fill(0, "cy@example.com", lastname="Cy", company="Acme", country="DE")
    report = org.sync(sync={"mapping": str(tmp_path / "m.toml")})
    assert report.status == "ok", report.error
    assert [lead["Country"] for lead in org.leads()] == ["Germany"]
