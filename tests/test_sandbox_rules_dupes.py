"""Duplicate rules on Lead and Contact with Salesforce's standard matching rules.

docs/sandbox-org-rules.md, section 3: fuzzy first and last names (initials, variants, sound,
typing slips, transposed names), company without legal words or as an acronym, exact email
and phone, the documented matching equation, cross-object Lead/Contact matching, blocking vs
allowing, the allowSave header, and the per-record replies of sObject Collections.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce, SalesforceMalformedRequest

from connector.sandbox import Sandbox
from connector.sandbox.dupes import (company_score, first_name_score, last_name_score, phonetic,
                                     standard_match)


def person(**values: Any) -> dict[str, Any]:
    base = {k: None for k in ("FirstName", "LastName", "Company", "Title", "Email", "Phone",
                              "Street", "City", "Zip")}
    base.update(values)
    return base


# -- matching methods ------------------------------------------------------------------------

def test_first_names_match_by_initial_variant_sound_and_similarity() -> None:
    assert first_name_score("Robert", "bob") == 100 and first_name_score("J.", "John") == 100
    assert first_name_score("Jon", "John") == 100 and first_name_score("Katherine", "Kate") == 100
    assert first_name_score("Michelle", "Michele") >= 85
    assert first_name_score("Maria", "Peter") < 85 and first_name_score("", "Pat") == 0


def test_last_names_match_by_sound_and_keyboard_slips() -> None:
    assert phonetic("Doe") == "T" and phonetic("Benioff") == "PNF"   # the Help's key examples
    assert last_name_score("Smith", "Smyth") == 100
    assert last_name_score("Johnson", "Jihnson") >= 90                # o/i are neighbouring keys
    assert last_name_score("Doe", "Roe") < 90


def test_companies_ignore_legal_words_and_match_acronyms() -> None:
    assert company_score("Acme, Inc.", "ACME") == 100
    assert company_score("IBM", "International Business Machines Corp") == 100
    assert company_score("Acme Widgets", "Acme Widget") >= 70
    assert company_score("Acme", "Globex") < 70


def test_the_matching_equation() -> None:
    pat = person(FirstName="Pat", LastName="Doe", Email="pat@acme.com", Company="Acme")
    assert standard_match(pat, person(FirstName="Patrick", LastName="Doe", Email="PAT@acme.com")) == 100
    assert standard_match(pat, person(FirstName="Maria", LastName="Doe", Email="pat@acme.com")) is None
    # a blank first name is ignored when Email is in the group, not otherwise
    assert standard_match(person(LastName="Doe", Email="pat@acme.com"),
                          person(FirstName="Pat", LastName="Doe", Email="pat@acme.com")) is not None
    assert standard_match(person(LastName="Doe", Phone="415-555-1234"),
                          person(FirstName="Pat", LastName="Doe", Phone="(415) 555 1234")) is None
    # same email, other person: not a duplicate under the standard rule
    assert standard_match(pat, person(FirstName="Sam", LastName="Roe", Email="pat@acme.com")) is None
    # transposed names
    assert standard_match(person(FirstName="Doe", LastName="Pat", Email="pat@acme.com"), pat) is not None
    # first + last + phone (leading 1 and punctuation ignored)
    assert standard_match(person(FirstName="Pat", LastName="Doe", Phone="1 415 555 1234"),
                          person(FirstName="Pat", LastName="Doe", Phone="415-555-1234")) == 100


# -- on the wire -----------------------------------------------------------------------------

def rules(sb: Sandbox, *specs: dict[str, Any]) -> requests.Response:
    return requests.post(f"{sb.url}/_sandbox/salesforce/setup", json={"duplicate_rules": list(specs)},
                         headers={"Authorization": f"Bearer {sb.token}"}, timeout=5)


PAT = {"FirstName": "Pat", "LastName": "Doe", "Company": "Acme", "Email": "pat@acme.com"}


def test_a_blocking_lead_rule_refuses_a_duplicate_lead(sandbox: Sandbox, sf: Salesforce) -> None:
    assert rules(sandbox, {"sobject": "Lead", "active": True, "action_on_insert": "block"}).status_code == 200
    first = sf.Lead.create(PAT)["id"]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.Lead.create({**PAT, "FirstName": "Patricia", "Email": "PAT@ACME.COM"})
    item = err.value.content[0]
    assert item["errorCode"] == "DUPLICATES_DETECTED"
    dup = item["duplicateResult"]
    assert dup["duplicateRule"] == "Standard_Lead_Duplicate_Rule" and dup["allowSave"] is False
    match = dup["matchResults"][0]
    assert (match["entityType"], match["rule"], match["matchEngine"]) == (
        "Lead", "Standard_Lead_Match_Rule_v1_0", "FuzzyMatchEngine")
    assert [m["record"]["Id"] for m in match["matchRecords"]] == [first]
    # another person at the same address is not a duplicate under the standard rule
    sf.Lead.create({**PAT, "FirstName": "Sam", "LastName": "Roe"})
    # allowSave lets the duplicate through
    saved = sf.Lead.create({**PAT}, headers={"Sforce-Duplicate-Rule-Header": "allowSave=true"})
    assert saved["success"] is True


def test_leads_match_contacts_and_contacts_match_leads(sandbox: Sandbox, sf: Salesforce) -> None:
    rules(sandbox, {"sobject": "Lead", "action_on_insert": "block"},
          {"sobject": "Contact", "action_on_insert": "block"})
    account = sf.Account.create({"Name": "Acme Inc."})["id"]
    contact = sf.Contact.create({"FirstName": "Pat", "LastName": "Doe", "AccountId": account,
                                 "Title": "CTO"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.Lead.create({"FirstName": "Pat", "LastName": "Doe", "Company": "ACME", "Title": "CTO"},
                       headers={"Sforce-Duplicate-Rule-Header": "includeRecordDetails=true"})
    match = err.value.content[0]["duplicateResult"]["matchResults"][0]
    assert (match["entityType"], match["rule"]) == ("Contact", "Standard_Contact_Match_Rule_v1_1")
    record = match["matchRecords"][0]["record"]
    assert record["Id"] == contact and record["Title"] == "CTO" and record["FirstName"] == "Pat"
    lead = sf.Lead.create({"FirstName": "Sam", "LastName": "Roe", "Company": "x",
                           "Phone": "+1 (650) 555-0100"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.Contact.create({"FirstName": "Samuel", "LastName": "Roe", "Phone": "650.555.0100"})
    match = err.value.content[0]["duplicateResult"]["matchResults"][0]
    assert match["entityType"] == "Lead" and match["matchRecords"][0]["record"]["Id"] == lead


def test_allow_actions_save_and_edits_are_checked_only_when_they_block(sandbox: Sandbox, sf: Salesforce) -> None:
    rules(sandbox, {"sobject": "Lead", "action_on_insert": "allow"})
    a = sf.Lead.create(PAT)["id"]
    b = sf.Lead.create(PAT)["id"]                          # alert only: both saved
    other = sf.Lead.create({"FirstName": "Sam", "LastName": "Roe", "Company": "x"})["id"]
    assert sf.Lead.update(other, {"FirstName": "Pat", "LastName": "Doe",
                                  "Email": "pat@acme.com"}) == 204   # edit action: allow
    rules(sandbox, {"sobject": "Lead", "action_on_insert": "block", "action_on_update": "block"})
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.Lead.update(b, {"Title": "VP"})                 # any edit of a duplicate
    assert err.value.content[0]["errorCode"] == "DUPLICATES_DETECTED"
    ids = {m["record"]["Id"] for m in err.value.content[0]["duplicateResult"]["matchResults"][0]["matchRecords"]}
    assert ids == {a, other}
    rules(sandbox, {"sobject": "Lead", "active": False})
    assert sf.Lead.update(b, {"Title": "VP"}) == 204


def test_collections_report_duplicates_per_record(sandbox: Sandbox, sf: Salesforce) -> None:
    rules(sandbox, {"sobject": "Lead", "action_on_insert": "block"})
    sf.Lead.create(PAT)
    res = sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Lead"}, **PAT},
        {"attributes": {"type": "Lead"}, "LastName": "New", "Company": "Acme", "Email": "new@acme.com"}]})
    assert res[0] == {"success": False, "errors": [{"statusCode": "DUPLICATES_DETECTED",
                                                     "message": "Use one of these records?",
                                                     "fields": []}]}
    assert res[1]["success"] is True


def test_bad_duplicate_rules_are_refused(sandbox: Sandbox) -> None:
    for spec, words in [({"sobject": "Account"}, "Lead or Contact"),
                        ({"sobject": "Lead", "action_on_insert": "warn"}, "block, allow"),
                        ({"sobject": "Lead", "active": "yes"}, "true or false"),
                        ({"sobject": "Lead", "colour": 1}, "unknown keys")]:
        resp = rules(sandbox, spec)
        assert resp.status_code == 400 and words in resp.json()["error"], spec


def test_rules_round_trip_and_older_datasets_still_load(sandbox: Sandbox, sf: Salesforce) -> None:
    sandbox.app.salesforce.set_duplicate_rule("Contact", action_on_insert="allow")
    dumped = sandbox.app.dump()["salesforce"]["duplicate_rules"]
    assert dumped == [{"sobject": "Contact", "active": True, "action_on_insert": "allow",
                       "action_on_update": "allow", "matching_rule": "standard"}]
    sandbox.app.load({"salesforce": {"duplicate_rules": {"Lead": True}}})   # the older form
    sf.Lead.create({"LastName": "A", "Company": "x", "Email": "same@x.com"})
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.Lead.create({"LastName": "B", "Company": "y", "Email": "same@x.com"})
    assert err.value.content[0]["duplicateResult"]["matchResults"][0]["matchEngine"] == "ExactMatchEngine"
    again = sandbox.app.dump()["salesforce"]
    sandbox.app.load({"salesforce": again})
    assert sandbox.app.dump()["salesforce"]["duplicate_rules"] == again["duplicate_rules"]


def test_an_alerting_allow_rule_blocks_api_saves(sandbox: Sandbox, sf: Salesforce) -> None:
    # "Considerations for Duplicate Rules": an alert cannot reach an API client, so the save
    # is blocked; the header lets it through
    rules(sandbox, {"sobject": "Lead", "action_on_insert": "allow", "alert": True})
    sf.Lead.create(PAT)
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.Lead.create(PAT)
    assert err.value.content[0]["errorCode"] == "DUPLICATES_DETECTED"
    assert sf.Lead.create(PAT, headers={"Sforce-Duplicate-Rule-Header": "allowSave=true"})["success"]


def test_records_of_one_save_are_not_compared_with_each_other(sandbox: Sandbox, sf: Salesforce) -> None:
    rules(sandbox, {"sobject": "Lead", "action_on_insert": "block"})
    res = sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Lead"}, **PAT}, {"attributes": {"type": "Lead"}, **PAT}]})
    assert [r["success"] for r in res] == [True, True]
    res = sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Lead"}, **PAT}]})
    assert res[0]["errors"][0]["statusCode"] == "DUPLICATES_DETECTED"   # a later save is compared


def test_an_edit_runs_the_rule_only_when_it_changes_a_compared_field(sandbox: Sandbox, sf: Salesforce) -> None:
    rules(sandbox, {"sobject": "Lead", "action_on_insert": "allow", "action_on_update": "block"})
    sf.Lead.create(PAT)
    twin = sf.Lead.create(PAT)["id"]
    assert sf.Lead.update(twin, {"LeadSource": "Web", "Email": "pat@acme.com"}) == 204   # nothing compared changed
    with pytest.raises(SalesforceMalformedRequest):
        sf.Lead.update(twin, {"Phone": "415 555 0100"})
