"""Issue 7 end to end, against the sandbox with the real clients: progressive profiling by
mapping rules, routing to users and queues, Lead Status stages, the follow-up Task, and the
new person at a known account."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterator

import pytest

from connector.adapters.sqlite.ledger import State
from sync_helpers import Org

MAPPING = """
[defaults]
LeadSource = "Web"

[fields.email]
lead = "Email"
contact = "Email"

[fields.firstname]
lead = "FirstName"
contact = "FirstName"
transforms = ["trim", "title"]

[fields.lastname]
lead = "LastName"
contact = "LastName"

[fields.company]
lead = "Company"

[fields.jobtitle]
lead = "Title"
contact = "Title"
transforms = ["trim", "truncate"]

[fields.phone]
lead = "Phone"
contact = "Phone"
transforms = ["phone"]

[fields.mobilephone]
lead = "MobilePhone"
rule = "overwrite"
transforms = ["phone"]

[fields.country]
lead = "Country"
transforms = ["country"]

[fields.rating]
lead = "Rating"
rule = "on_create_only"
transforms = ["map"]
map = { hot = "Hot", warm = "Warm", cold = "Cold" }

[fields.industry]
lead = "Industry"
rule = "never"
"""


@pytest.fixture
def org(sandbox, tmp_path) -> Iterator[Org]:
    org = Org(sandbox, tmp_path / "state" / "leadsync.db")
    org.add_forms(3)
    (tmp_path / "mapping.toml").write_text(MAPPING)
    org.mapping = str(tmp_path / "mapping.toml")  # type: ignore[attr-defined]
    yield org


def run(org: Org, method: str = "unique", *, dry_run: bool = False, **sections: Any):
    sync = {"mapping": org.mapping, **sections.pop("sync", {})}  # type: ignore[attr-defined]
    report = org.sync(method, dry_run=dry_run, sync=sync, **sections)
    assert report.status == "ok", report.error
    return report


def lead_of(org: Org, email: str) -> dict[str, Any]:
    (lead,) = org.leads(email)
    return lead


# -- mapping rules --------------------------------------------------------------------------

def test_fill_blank_fills_only_what_is_empty_and_never_overwrites(org):
    lead_id = org.sf.insert("Lead", {"LastName": "Smith", "Company": "Acme", "Email": "bob@acme.com",
                                     "Title": "VP Sales"})
    org.fill(0, "bob@acme.com", firstname="  bob ", jobtitle="Intern", phone="+1 (415) 555-0100")
    report = run(org, "hybrid")
    lead = org.sf.get("Lead", lead_id)
    assert lead["Title"] == "VP Sales"              # what sales typed stays
    assert lead["FirstName"] == "Bob"               # blank, filled (trimmed, title case)
    assert lead["Phone"] == "+14155550100"
    (line,) = report.responses
    assert line["changes"] == {"FirstName": {"before": None, "after": "Bob"},
                               "Phone": {"before": None, "after": "+14155550100"}}
    row = State.open(org.state_path).ledger(line["conversion_id"])
    assert row["changed_fields"] == "FirstName,Phone"


def test_overwrite_on_create_only_and_never(org):
    lead_id = org.sf.insert("Lead", {"LastName": "Smith", "Company": "Acme", "Email": "bob@acme.com",
                                     "MobilePhone": "+1 111", "Rating": "Cold"})
    org.fill(0, "bob@acme.com", mobilephone="+44 20 7946 0000", rating="hot", industry="Banking")
    run(org, "unique")
    lead = org.sf.get("Lead", lead_id)
    assert lead["MobilePhone"] == "+442079460000"   # overwrite
    assert lead["Rating"] == "Cold"                 # on_create_only: not on an existing Lead
    assert not lead.get("Industry")                 # never


def test_a_new_lead_gets_create_only_values_but_not_never_fields(org):
    org.fill(0, "new@acme.com", rating="warm", industry="Banking", country="deutschland",
             lastname="Neu")
    run(org, "unique")
    lead = lead_of(org, "new@acme.com")
    assert (lead["Rating"], lead["LeadSource"], lead.get("Industry")) == ("Warm", "Web", None)
    assert lead["Country"] == "Germany"


def test_placeholder_counts_as_blank_for_progressive_profiling(org):
    org.fill(0, "pat@acme.com")                                 # Web-to-Lead placeholders
    run(org, "hybrid")
    assert lead_of(org, "pat@acme.com")["LastName"] == "[not provided]"
    org.fill(1, "pat@acme.com", lastname="Jones", company="Acme Corp")   # a later run
    org.fill(0, "sam@acme.com")
    org.fill(1, "sam@acme.com", lastname="Sam")                          # the same run
    run(org, "hybrid")
    lead = lead_of(org, "pat@acme.com")
    assert (lead["LastName"], lead["Company"]) == ("Jones", "Acme Corp")
    assert lead_of(org, "sam@acme.com")["LastName"] == "Sam"


def test_attach_to_contact_fills_the_contacts_blanks(org):
    account = org.sf.insert("Account", {"Name": "Acme"})
    contact = org.sf.insert("Contact", {"LastName": "Doe", "Email": "jane@acme.com", "AccountId": account,
                                        "Phone": "+1 222"})
    org.fill(0, "jane@acme.com", jobtitle="CFO", phone="+1 999")
    run(org, "unique")
    row = org.sf.get("Contact", contact)
    assert (row["Title"], row["Phone"]) == ("CFO", "+1 222")


def test_a_converted_lead_is_never_written(org):
    lead = org.sf.insert("Lead", {"LastName": "Old", "Company": "Acme", "Email": "carol@acme.com"})
    converted = org.sf.convert_lead(lead)
    org.fill(0, "carol@acme.com", jobtitle="CTO")
    run(org, "unique")
    assert not org.sf.get("Lead", lead).get("Title")
    assert org.sf.get("Contact", converted["contactId"])["Title"] == "CTO"


def test_dry_run_shows_before_and_after_and_writes_nothing(org):
    lead_id = org.sf.insert("Lead", {"LastName": "Smith", "Company": "Acme", "Email": "bob@acme.com"})
    org.fill(0, "bob@acme.com", jobtitle="CTO")
    before = org.sandbox.app.salesforce.dump()
    report = run(org, "unique", dry_run=True)
    assert report.responses[0]["details"] == ["Title: (blank) -> 'CTO'"]
    assert org.sandbox.app.salesforce.dump() == before
    assert not org.sf.get("Lead", lead_id).get("Title")


def test_four_fills_fold_into_one_write_of_the_new_lead(org):
    org.fill(0, "bob@acme.com", lastname="Smith")
    org.fill(1, "bob@acme.com", jobtitle="CTO")
    org.fill(2, "bob@acme.com", phone="(415) 555-0100", jobtitle="CEO")
    org.sandbox.counters.clear()
    report = run(org, "hybrid")
    lead = lead_of(org, "bob@acme.com")
    assert (lead["LastName"], lead["Title"], lead["Phone"]) == ("Smith", "CTO", "+14155550100")
    assert report.counts["created_leads"] == 1 and len(org.members(lead["Id"])) == 3
    assert org.sandbox.counters.get("salesforce.collections", 0) + \
        org.sandbox.counters.get("salesforce.composite", 0) <= 5


# -- routing --------------------------------------------------------------------------------

@pytest.fixture
def people(org) -> dict[str, str]:
    store = org.sandbox.app.salesforce.store
    return {
        "jane": store.add_user("Doe", first_name="Jane", username="jane@acme.example"),
        "max": store.add_user("Muster", first_name="Max", username="max@acme.example"),
        "inbound": store.add_queue("Inbound Leads", developer_name="Inbound_Leads"),
    }


def routing(org: Org, **extra: Any) -> dict[str, Any]:
    return {"mode": "rules", "default_owner": "queue:Inbound_Leads",
            "rules": [{"owner": "user:max@acme.example", "country": ["DE", "AT", "CH"]},
                      {"owner": "user:jane@acme.example", "form": [org.forms[1]]}],
            **extra}


def test_owner_rules_route_to_users_and_queues(org, people):
    org.fill(0, "hans@firma.de", country="Germany")
    org.fill(1, "amy@corp.com", country="US")
    org.fill(0, "li@corp.cn", country="China")
    report = run(org, "poi", routing=routing(org), sync={"poi_delivery": "at_least_once"})
    owners = {lead["Email"]: lead["OwnerId"] for lead in org.leads()}
    assert owners == {"hans@firma.de": people["max"], "amy@corp.com": people["jane"],
                      "li@corp.cn": people["inbound"]}
    details = {r["email"]: r["details"] for r in report.responses}
    assert any("rule 1" in line for line in details["hans@firma.de"])
    rows = {r["email"]: r for r in State.open(org.state_path).rows()}
    assert rows["li@corp.cn"]["owner_id"] == people["inbound"]


def test_an_existing_leads_owner_is_left_alone(org, people):
    lead_id = org.sf.insert("Lead", {"LastName": "S", "Company": "A", "Email": "hans@firma.de",
                                     "OwnerId": people["jane"]})
    org.fill(0, "hans@firma.de", country="Germany")
    run(org, "hybrid", routing=routing(org))
    assert org.sf.get("Lead", lead_id)["OwnerId"] == people["jane"]


def test_an_unknown_default_owner_parks_the_leads_it_would_own(org, people):
    """A default owner the org does not have stops nothing: the Lead it would own is parked
    (nothing left to fall back to), the run ends partial and says which owner."""
    from connector.engine.wiring import Session
    from connector.adapters.transport import RetryPolicy

    org.fill(0, "a@b.com")
    bad = routing(org, default_owner="queue:Nope")
    with Session(org.settings("unique", routing=bad), retry=RetryPolicy.fast()) as engine:
        report = engine.run()
    assert report.status == "partial" and report.exit_code == 3, report.error
    assert report.refused == {"OWNER_UNAVAILABLE": 1}
    assert [w["subject"] for w in report.warnings] == ["routing.default_owner"]
    assert "no queue with DeveloperName Nope" in report.warnings[0]["message"]
    assert not org.leads()


def test_assignment_rules_mode_asks_salesforce_to_assign(org, people):
    settings = org.settings("unique", routing={"mode": "assignment_rules"})
    assert settings.salesforce.auto_assign is True
    org.fill(0, "a@b.com")
    run(org, "unique", routing={"mode": "assignment_rules"})
    lead = lead_of(org, "a@b.com")
    assert lead["OwnerId"] == org.sandbox.app.salesforce.store.assignment_owner_id


# -- stages and the hand-off ---------------------------------------------------------------

# The world's fills are dated from T0 (2025): hand-offs are tested as if fresh, so max_age
# (default 7d, past which a response gets no Task or stage change) is set to cover them.
FRESH = "3650d"


def stages(org: Org) -> dict[str, Any]:
    return {"nurture": "Open - Not Contacted", "sales_ready": "Working - Contacted",
            "sales_ready_forms": [org.forms[2]], "max_age": FRESH}


def test_status_moves_up_at_the_sales_ready_form_and_never_down(org, people):
    org.fill(0, "bob@acme.com", lastname="Smith")
    run(org, "hybrid", routing=routing(org, stages=stages(org)))
    assert lead_of(org, "bob@acme.com")["Status"] == "Open - Not Contacted"
    org.fill(2, "bob@acme.com")
    run(org, "hybrid", routing=routing(org, stages=stages(org)))
    assert lead_of(org, "bob@acme.com")["Status"] == "Working - Contacted"
    org.fill(0, "bob@acme.com")
    run(org, "hybrid", routing=routing(org, stages=stages(org)))
    assert lead_of(org, "bob@acme.com")["Status"] == "Working - Contacted"


def test_a_reps_status_is_not_touched(org, people):
    lead_id = org.sf.insert("Lead", {"LastName": "S", "Company": "A", "Email": "bob@acme.com",
                                     "Status": "Closed - Not Converted"})
    org.fill(2, "bob@acme.com")
    run(org, "hybrid", routing=routing(org, stages=stages(org)))
    assert org.sf.get("Lead", lead_id)["Status"] == "Closed - Not Converted"


def test_sales_ready_form_creates_a_follow_up_task_with_the_history(org, people):
    org.fill(0, "amy@corp.com", lastname="Lee")
    run(org, "hybrid", routing=routing(org, stages=stages(org)))
    org.fill(1, "amy@corp.com")                     # jane's form
    submitted = org.clock + 60_000
    org.fill(2, "amy@corp.com", message="Please call me")
    tasks_cfg = {"sla": "4h", "subject": "Follow up: {form} from {email}"}
    report = run(org, "hybrid", routing=routing(org, stages=stages(org), tasks=tasks_cfg))
    lead = lead_of(org, "amy@corp.com")
    (task,) = org.sf.records("Task")
    assert task["WhoId"] == lead["Id"]
    assert task["Subject"] == "Follow up: Form 2 from amy@corp.com"
    due = datetime.fromtimestamp((submitted + 4 * 3600_000) / 1000, timezone.utc)
    assert task["ActivityDate"] == due.date().isoformat()      # the SLA, from the submission
    assert task["IsReminderSet"] is True and task["ReminderDateTime"]
    assert "Form 0" in task["Description"]          # the moments that made this a lead
    # The Lead sits in the Inbound queue and a queue cannot own a Task: the integration user does.
    assert lead["OwnerId"] == people["inbound"]
    assert task["OwnerId"] == org.sandbox.app.salesforce.store.api_user_id
    row = State.open(org.state_path).ledger(report.responses[-1]["conversion_id"])
    assert row["task_id"] == task["Id"]


def test_a_task_for_a_queue_owned_lead_goes_to_the_task_owner(org, people):
    tasks_cfg = {"sla": "1h", "owner": "user:jane@acme.example"}
    org.fill(2, "li@corp.cn", country="China")      # -> the Inbound queue
    run(org, "poi", routing=routing(org, stages=stages(org), tasks=tasks_cfg),
        sync={"poi_delivery": "at_least_once"})
    (task,) = org.sf.records("Task")
    assert task["OwnerId"] == people["jane"]
    assert lead_of(org, "li@corp.cn")["OwnerId"] == people["inbound"]


def test_a_task_owner_who_left_gives_the_task_to_the_integration_user_with_a_warning(org, people):
    """An unusable [routing.tasks] owner stops nothing: the run warns, the Lead is routed
    as before and its Task goes to whoever creates it, as when no task owner is set."""
    tasks_cfg = {"sla": "1h", "owner": "user:left@acme.example"}
    org.fill(2, "li@corp.cn", country="China")      # -> the Inbound queue
    report = run(org, "poi", routing=routing(org, stages=stages(org), tasks=tasks_cfg),
                 sync={"poi_delivery": "at_least_once"})
    assert report.status == "ok", report.error
    assert [w["subject"] for w in report.warnings] == ["routing.tasks.owner"]
    (task,) = org.sf.records("Task")
    assert task["OwnerId"] == org.sandbox.app.salesforce.store.api_user_id
    assert lead_of(org, "li@corp.cn")["OwnerId"] == people["inbound"]


# -- the new person at a known account -----------------------------------------------------

@pytest.fixture
def accounts(org) -> dict[str, str]:
    sf = org.sf
    return {
        "acme": sf.insert("Account", {"Name": "Acme Inc.", "Website": "https://www.acme.com/en/"}),
        "globex": sf.insert("Account", {"Name": "Globex GmbH", "Website": "globex.de"}),
        "initech_old": sf.insert("Account", {"Name": "Initech", "Website": "http://initech.io"}),
        "initech_new": sf.insert("Account", {"Name": "Initech EU", "Website": "www.initech.io/eu"}),
        "notacme": sf.insert("Account", {"Name": "Not Acme", "Website": "notacme.com"}),
    }


def test_unique_creates_a_contact_on_the_matched_account(org, accounts):
    for form in range(3):
        org.fill(form, "new.person@eu.acme.com", lastname="Person", jobtitle="CTO")
    report = run(org, "unique", accounts={"new_person": "contact"})
    assert not org.leads()
    (contact,) = [c for c in org.sf.records("Contact") if c["Email"] == "new.person@eu.acme.com"]
    assert contact["AccountId"] == accounts["acme"] and contact["Title"] == "CTO"
    assert len(org.members(contact["Id"])) == 3
    assert report.counts["created_contacts"] == 1
    row = State.open(org.state_path).ledger(report.responses[0]["conversion_id"])
    assert (row["action"], row["account_id"], row["account_match"]) == (
        "create_contact", accounts["acme"], "domain")


def test_domain_variants_free_mail_and_lookalikes(org, accounts):
    org.fill(0, "a@globex.de")
    org.fill(0, "b@gmail.com", company="Acme")
    org.fill(0, "c@notacme.com")
    org.fill(0, "d@acme.com.evil.io")
    run(org, "unique", accounts={"new_person": "contact"})
    contacts = {c["Email"]: c["AccountId"] for c in org.sf.records("Contact")}
    assert contacts == {"a@globex.de": accounts["globex"], "c@notacme.com": accounts["notacme"]}
    assert {lead["Email"] for lead in org.leads()} == {"b@gmail.com", "d@acme.com.evil.io"}


def test_two_accounts_on_one_domain_are_resolved_deterministically(org, accounts):
    org.fill(0, "x@initech.io")
    report = run(org, "unique", accounts={"new_person": "contact"})
    (contact,) = org.sf.records("Contact")
    assert contact["AccountId"] == accounts["initech_old"]      # the oldest
    assert any("2 Accounts share initech.io" in line for line in report.responses[0]["details"])


def test_company_name_matching_is_optional(org, accounts):
    org.fill(0, "ceo@gmail.com", company="ACME, Inc")
    run(org, "unique", accounts={"new_person": "contact"})
    assert org.leads("ceo@gmail.com")
    org2_fill = org.fill(0, "cfo@gmail.com", company="Acme Incorporated")
    assert org2_fill
    run(org, "unique", accounts={"new_person": "contact", "by_company": True})
    (contact,) = org.sf.records("Contact")
    assert (contact["Email"], contact["AccountId"]) == ("cfo@gmail.com", accounts["acme"])


def test_hybrid_lead_carries_the_matched_account(sandbox, tmp_path):
    sandbox.app.salesforce.store.reset(custom={"Lead": {"Matched_Account__c": {
        "type": "reference", "referenceTo": ["Account"]}}})
    org = Org(sandbox, tmp_path / "leadsync.db")
    org.add_forms(1)
    acme = org.sf.insert("Account", {"Name": "Acme", "Website": "acme.com"})
    org.fill(0, "new@acme.com")
    report = org.sync("hybrid", accounts={"lead_field": "Matched_Account__c"})
    assert report.status == "ok", report.error
    (lead,) = org.leads()
    assert lead["Matched_Account__c"] == acme
    assert not org.sf.records("Contact")


def test_dry_run_shows_the_matched_account(org, accounts):
    org.fill(0, "z@acme.com")
    report = run(org, "unique", dry_run=True, accounts={"new_person": "contact"})
    (line,) = report.responses
    assert line["action"] == "create_contact"
    assert line["account"] == {"id": accounts["acme"], "name": "Acme Inc.", "how": "domain"}
    assert not org.sf.records("Contact")


def test_rerun_changes_nothing(org, accounts, people):
    org.fill(0, "new@acme.com", lastname="N")
    org.fill(2, "bob@corp.com", lastname="B", country="Germany")
    sections = {"accounts": {"new_person": "contact"},
                "routing": routing(org, stages=stages(org), tasks={"sla": "2h"})}
    run(org, "unique", **sections)
    before = org.sandbox.app.salesforce.dump()
    run(org, "unique", **sections)
    assert org.sandbox.app.salesforce.dump() == before


def test_assignment_rules_never_run_on_the_updates_that_fill_blanks(org, people):
    lead_id = org.sf.insert("Lead", {"LastName": "S", "Company": "A", "Email": "rep@acme.com",
                                     "OwnerId": people["jane"]})
    org.fill(0, "rep@acme.com", jobtitle="CTO")
    run(org, "unique", routing={"mode": "assignment_rules"})
    lead = org.sf.get("Lead", lead_id)
    assert (lead["Title"], lead["OwnerId"]) == ("CTO", people["jane"])
