"""Issue 16, "Real orgs", done when: a sync into an org with both standard duplicate rules
active, a validation rule on Lead phone format, a campaign missing the configured status,
and a batch that fills blanks on 20 Leads and 20 Contacts leaves no orphan Lead, pauses the
broken campaign's form with a message naming its config entry, applies the other forms,
parks every refused record with Salesforce's reason, and ``mappings check`` names each
problem beforehand. Also item 4: required custom fields and the orphan-Lead case.

Against the sandbox over loopback (real simple-salesforce, real HubSpot request building,
the CLI through click), set up with ``POST /_sandbox/salesforce/setup``.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
import requests
from click.testing import CliRunner

from connector.adapters.sqlite.ledger import State
from connector.adapters.transport import RetryPolicy
from connector.cli import main
from connector.config.mapping_file import load_mapping
from connector.core.mapping_check import check_mapping
from connector.core.schema import schema_from_describes
from connector.engine.wiring import Session
from connector.sandbox import Sandbox
from sync_helpers import Org

PHONE_RULE = {"sobject": "Lead", "name": "Phone_Format", "active": True,
              "error_condition": 'AND(NOT(ISBLANK(Phone)), NOT(REGEX(Phone, "\\\\(\\\\d{3}\\\\) \\\\d{3}-\\\\d{4}")))',
              "error_message": "Phone must look like (415) 555-0100.", "error_field": "Phone"}
# Salesforce's standard rules ship as Allow with an alert, which blocks API saves.
STANDARD_RULES = [{"sobject": "Lead", "active": True, "action_on_insert": "allow", "alert": True},
                  {"sobject": "Contact", "active": True, "action_on_insert": "allow", "alert": True}]


FIRST = ["Aiko", "Bruno", "Chiara", "Dmitri", "Esther", "Farid", "Greta", "Hiro", "Ines", "Jonas",
         "Kwame", "Ludmila", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Soren", "Tamar",
         "Umar", "Vera", "Wiebke", "Xiomara", "Yusuf", "Zofia", "Anders", "Beatriz", "Cyrus",
         "Dagny", "Emeka", "Fumiko", "Gideon", "Hanne", "Ilya", "Jovana", "Kenji", "Leilani",
         "Marek", "Nkechi"]
LAST = ["Abernathy", "Brzezinski", "Castellanos", "Dvorak", "Eriksen", "Fontaine", "Gallagher",
        "Hakimi", "Iwasaki", "Jablonski", "Kowalczyk", "Lindqvist", "Moreau", "Nakamura",
        "Okonkwo", "Petrovic", "Quispe", "Rasmussen", "Szabo", "Thibodeaux", "Ulrich", "Vasquez",
        "Whitfield", "Xu", "Yamamoto", "Zielinski", "Achebe", "Bergstrom", "Chowdhury", "Delacroix",
        "Esposito", "Fitzgerald", "Grunewald", "Halvorsen", "Ivanova", "Jorgensen", "Kaczmarek",
        "Laurent", "Mbeki", "Novak"]
COMPANY = [f"{word} Ltd" for word in ("Alder", "Birch", "Cedar", "Dogwood", "Elm", "Fir", "Ginkgo",
                                      "Hazel", "Ironwood", "Juniper", "Kapok", "Larch", "Maple",
                                      "Nutmeg", "Oak", "Pine", "Quince", "Rowan", "Spruce", "Teak")]


@pytest.fixture
def org(tmp_path: Any) -> Iterator[Org]:
    with Sandbox() as sandbox:
        o = Org(sandbox, tmp_path / "state" / "leadsync.db")
        o.add_forms(3)
        yield o


def setup_org(org: Org) -> None:
    reply = requests.post(f"{org.sandbox.url}/_sandbox/salesforce/setup",
                          json={"validation_rules": [PHONE_RULE], "duplicate_rules": STANDARD_RULES},
                          headers={"Authorization": f"Bearer {org.sandbox.token}"}, timeout=10)
    assert reply.status_code == 200, reply.text


def test_a_real_org_sync_end_to_end(org, tmp_path):
    sf = org.sf
    setup_org(org)
    account = sf.insert("Account", {"Name": "Initech", "Website": "initech.example"})
    # 20 Leads and 20 Contacts with blanks to fill, created before the rules bite (loads)
    for i in range(20):   # people unlike each other, as the matching rules see names
        sf.insert("Lead", {"FirstName": FIRST[i], "LastName": LAST[i], "Company": COMPANY[i],
                           "Email": f"lead{i}@globex.example"})
        sf.insert("Contact", {"FirstName": FIRST[-1 - i], "LastName": LAST[-1 - i],
                              "Email": f"contact{i}@initech.example", "AccountId": account})
    sf.insert("Lead", {"FirstName": "Robert", "LastName": "Smith", "Company": "Acme",
                       "Email": "bob.smith@acme.example", "Title": "CTO"})
    # Form 0: the blank fills, interleaved Lead, Contact, Lead, ...
    for i in range(20):
        org.fill(0, f"lead{i}@globex.example", jobtitle=f"Buyer {i}")
        org.fill(0, f"contact{i}@initech.example", jobtitle=f"Engineer {i}")
    # Form 1: a duplicate of Robert Smith (other email) and a badly formatted phone
    org.fill(1, "rsmith@mail.example", firstname="Robert", lastname="Smith", company="Acme",
             jobtitle="CTO")
    org.fill(1, "dana@umbrella.example", firstname="Dana", lastname="Scully", company="Umbrella",
             phone="+44 20 7946 0958")
    org.fill(1, "fox@umbrella.example", firstname="Fox", lastname="Mulder", company="Umbrella")
    # Form 2: its campaign lacks the configured status
    org.fill(2, "walter@hooli.example", firstname="Walter", lastname="Skinner", company="Hooli")
    config = org.write_config(tmp_path / "leadsync.toml", method="unique")
    text = config.read_text()
    marker = f'campaign_id = "{org.campaigns[2]}"'
    config.write_text(text.replace(marker, marker + '\nmember_status = "Attended"'))
    runner = CliRunner()

    # beforehand: mappings check names the broken campaign by its config entry
    checked = runner.invoke(main, ["mappings", "check", "--config", str(config)], env=org.env())
    assert checked.exit_code == 3, checked.output
    assert (f"campaigns[2] (form {org.forms[2]}, campaign_id '{org.campaigns[2]}'): campaign "
            "'Campaign 2' has no member status 'Attended'") in checked.output

    synced = runner.invoke(main, ["sync", "--config", str(config), "--json"], env=org.env())
    assert synced.exit_code == 3, synced.output
    out = json.loads(synced.output)

    # the broken campaign's form is paused, named by its entry; nothing created for it
    assert out["counts"]["paused_forms"] == 1
    assert out["paused_forms"][0]["entry"] == "campaigns[2]"
    assert not [lead for lead in org.leads() if lead["Email"] == "walter@hooli.example"]
    state = State.open(org.state_path)
    assert state.watermark(org.forms[2]) is None
    # the blank fills on 20 Leads and 20 Contacts applied (one mixed update, grouped by type)
    titles = {r["Email"]: r.get("Title") for r in [*sf.records("Lead"), *sf.records("Contact")]}
    assert all(titles[f"lead{i}@globex.example"] == f"Buyer {i}" for i in range(20))
    assert all(titles[f"contact{i}@initech.example"] == f"Engineer {i}" for i in range(20))
    # every refused record parked with Salesforce's reason
    rows = {r["email"]: r for r in state.rows()}
    assert rows["rsmith@mail.example"]["status"] == "failed"
    assert rows["rsmith@mail.example"]["error_code"] == "DUPLICATES_DETECTED"
    assert rows["dana@umbrella.example"]["error_code"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert "Phone must look like (415) 555-0100." in rows["dana@umbrella.example"]["error"]
    assert rows["fox@umbrella.example"]["status"] == "applied"
    assert sum(r["status"] == "applied" for r in rows.values()) == 41
    assert {g["code"] for g in out["refused"]} == {"DUPLICATES_DETECTED",
                                                   "FIELD_CUSTOM_VALIDATION_EXCEPTION"}
    # no orphan Lead: every Lead leadsync created has its campaign membership
    members = {m.get("LeadId") for m in org.members()}
    created = [r["lead_id"] for r in rows.values() if r["action"] == "create_lead" and r["lead_id"]]
    assert created and all(lead_id in members for lead_id in created)
    state.close()


def test_a_lead_whose_membership_fails_is_reported_created_and_retry_reuses_it(org):
    """Item 4's orphan: under poi without an external id, a Lead created before its
    membership is refused was reported only as failed, and ``retry`` made a second Lead."""
    org.sf.add_validation_rule("CampaignMember", "No_Leads", "NOT(ISBLANK(LeadId))",
                               "Leads cannot join this campaign.")
    org.fill(0, "ann@globex.example", lastname="Ann", company="Globex")

    report = org.sync("poi", sync={"poi_delivery": "at_least_once"})

    assert report.status == "partial"
    assert report.counts["failed"] == 1 and report.counts["created_leads"] == 1
    [lead] = org.leads()
    [row] = State.open(org.state_path).rows()
    assert row["status"] == "failed" and row["lead_id"] == lead["Id"]
    assert row["error"].startswith("FIELD_CUSTOM_VALIDATION_EXCEPTION: Leads cannot join this campaign.")
    assert f"its Lead {lead['Id']} was created" in row["error"]

    org.sf.setup({"validation_rules": [{"sobject": "CampaignMember", "name": "No_Leads",
                                        "error_condition": "false", "error_message": "off",
                                        "active": False}]})
    with Session(org.settings("poi", sync={"poi_delivery": "at_least_once"}), retry=RetryPolicy.fast()) as engine:
        again = engine.retry()

    assert again.status == "ok", again.error
    # the first run counted the Lead as created: the retry adds its membership, no new Lead
    assert (again.counts["created_leads"], again.counts["attached"]) == (0, 1)
    assert [x["Id"] for x in org.leads()] == [lead["Id"]]          # no second Lead
    assert [m["LeadId"] for m in org.members()] == [lead["Id"]]


def test_mappings_check_warns_about_required_custom_fields(sandbox):
    sandbox.app.load({"salesforce": {"schema": {"Lead": {
        "Region__c": {"type": "string", "required": True},
        "Tier__c": {"type": "string", "required": True, "defaultValue": "Bronze"},
        "Segment__c": {"type": "string", "required": True}}}}})
    from simple_salesforce import Salesforce
    from conftest import sandbox_session

    sf = Salesforce(instance_url=sandbox.url, session_id=sandbox.token,
                    session=sandbox_session(sandbox.url), version="59.0")
    schema = schema_from_describes({"Lead": sf.Lead.describe(), "Contact": sf.Contact.describe()})
    mapping = load_mapping("mappings/default.toml")
    mapping = type(mapping)(mapping.fields, {**mapping.defaults, "Segment__c": "SMB"},
                            mapping.source, mapping.default_lines)

    problems = [p for p in check_mapping(mapping, schema) if p.where.endswith("__c")]

    assert [(p.where, p.level) for p in problems] == [("Lead.Region__c", "warning")]
    assert "REQUIRED_FIELD_MISSING" in problems[0].message
    assert 'add Region__c = "<value>" to [defaults]' in problems[0].message


def test_mappings_check_warns_about_required_custom_fields_on_contact(sandbox):
    """A new person at a matched Account becomes a Contact; [defaults] do not fill it."""
    sandbox.app.load({"salesforce": {"schema": {"Contact": {
        "Region__c": {"type": "string", "required": True},
        "Tier__c": {"type": "string", "required": True, "defaultValue": "Bronze"}}}}})
    from simple_salesforce import Salesforce
    from conftest import sandbox_session

    sf = Salesforce(instance_url=sandbox.url, session_id=sandbox.token,
                    session=sandbox_session(sandbox.url), version="59.0")
    schema = schema_from_describes({"Lead": sf.Lead.describe(), "Contact": sf.Contact.describe()})
    mapping = load_mapping("mappings/default.toml")

    problems = [p for p in check_mapping(mapping, schema) if p.where.endswith("__c")]

    assert [(p.where, p.level) for p in problems] == [("Contact.Region__c", "warning")]
    assert "new Contact would be refused with REQUIRED_FIELD_MISSING" in problems[0].message
