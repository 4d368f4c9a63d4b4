"""Validation rules (a formula subset with its own parser) and required custom fields.

docs/sandbox-org-rules.md, sections 4 and 5: an active rule whose error condition is true
fails the record with FIELD_CUSTOM_VALIDATION_EXCEPTION, its message and ``fields:
[error_field]``; rules are set up over ``POST /_sandbox/salesforce/setup``, in a dataset, or
from Python, and a bad formula is refused with a 400 that says why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce, SalesforceMalformedRequest

from connector.sandbox import Sandbox
from connector.sandbox.formula import FormulaError, compile_formula
from connector.sandbox.sf_schema import build_objects
from connector.sandbox.sf_store import DatasetError

LEAD = build_objects()["Lead"].fields


def holds(text: str, **record: Any) -> bool:
    return compile_formula(text, LEAD)(record)


# -- the formula subset --------------------------------------------------------------------

def test_blank_text_and_functions() -> None:
    assert holds("ISBLANK(Email)") and holds("ISBLANK(Email)", Email=None)
    assert not holds("ISBLANK(Email)", Email="a@b.co")
    assert holds("LEN(Title) > 3", Title="Head") and not holds("LEN(Title) > 3")
    assert holds("BEGINS(Company, 'Ac')", Company="Acme") and not holds("BEGINS(Company, 'ac')", Company="Acme")
    assert holds("CONTAINS(Email, '@acme.')", Email="p@acme.com")
    assert not holds("CONTAINS(Email, 'x')")          # a blank field contains nothing
    assert holds("Company = 'Acme'", Company="Acme") and not holds("Company = 'acme'", Company="Acme")


def test_regex_matches_the_whole_text() -> None:
    zip_rule = r"NOT(REGEX(PostalCode, '\\d{5}(-\\d{4})?'))"
    assert not holds(zip_rule, PostalCode="12345") and not holds(zip_rule, PostalCode="12345-6789")
    assert holds(zip_rule, PostalCode="1234") and holds(zip_rule, PostalCode="x12345")
    assert holds("REGEX(Email, '.*@acme\\\\.com')", Email="p@acme.com")


def test_operators_precedence_and_logic() -> None:
    assert holds("1 + 2 * 3 = 7 && 2 ^ 3 = 8")
    assert holds("NumberOfEmployees / 2 >= 5 || Title = 'Hot'", NumberOfEmployees=10)
    assert holds("AND(NOT(ISBLANK(Email)), OR(Title = 'CEO', Title <> 'CTO'))", Email="x", Title="VP")
    assert holds("FirstName & ' ' & LastName = 'Pat Doe'", FirstName="Pat", LastName="Doe")
    assert holds("FirstName + LastName == 'PatDoe'", FirstName="Pat", LastName="Doe")
    assert holds("IF(ISBLANK(Title), 0, LEN(Title)) < 1")
    assert holds("-NumberOfEmployees < 0", NumberOfEmployees=3)


def test_picklists_and_blank_numbers() -> None:
    assert holds("ISPICKVAL(Status, 'Open - Not Contacted')", Status="Open - Not Contacted")
    assert holds("TEXT(Industry) = 'Banking'", Industry="Banking")
    assert holds("TEXT(NumberOfEmployees) = '12'", NumberOfEmployees=12.0)
    assert not holds("AnnualRevenue < 0") and not holds("AnnualRevenue < 0 || AnnualRevenue >= 0")
    assert holds("ISBLANK(AnnualRevenue)") and holds("HasOptedOutOfEmail = FALSE")


@pytest.mark.parametrize("text, words", [
    ("ISBLANK(Email", "Missing ')'"),
    ("Email = ", "Missing an expression"),
    ("Nope__c = 'x'", "Field Nope__c does not exist"),
    ("Account.Name = 'x'", "does not exist"),
    ("LeadSource = 'Web'", "picklist field"),
    ("ISPICKVAL(LeadSource, Title)", "text literal"),
    ("ISPICKVAL(Title, 'x')", "Expected Picklist, received Text"),
    ("LEN(Email)", "incompatible with expected data type (true or false)"),
    ("LEN(Email, 2) > 1", "Expected 1, received 2"),
    ("Email = 1", "Expected Text, received Number"),
    ("__import__('os')", "Unknown function __IMPORT__"),
    ("Email == 'a' ; 1", "Found ';'"),
    ("REGEX(Email, '(')", "Invalid regular expression"),
])
def test_bad_formulas_are_refused_with_the_reason(text: str, words: str) -> None:
    with pytest.raises(FormulaError) as err:
        compile_formula(text, LEAD)
    assert words in str(err.value)


# -- rules on the wire -------------------------------------------------------------------------

RULES = [
    {"sobject": "Lead", "name": "Email_Required", "error_condition": "ISBLANK(Email)",
     "error_message": "Give the lead an email.", "error_field": "Email"},
    {"sobject": "Lead", "name": "No_Test_Company", "error_condition": "BEGINS(Company, 'TEST')",
     "error_message": "Test companies are not allowed."},
    {"sobject": "Lead", "name": "Inactive_Rule", "error_condition": "NOT(ISBLANK(Title))",
     "error_message": "never", "active": False},
]


def setup(sb: Sandbox, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{sb.url}/_sandbox/salesforce/setup", json=body,
                         headers={"Authorization": f"Bearer {sb.token}"}, timeout=5)


def test_rules_fail_creates_and_updates_with_their_messages(sandbox: Sandbox, sf: Salesforce) -> None:
    resp = setup(sandbox, {"validation_rules": RULES})
    assert resp.status_code == 200 and len(resp.json()["validation_rules"]) == 3
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.Lead.create({"LastName": "Doe", "Company": "TEST Corp", "Title": "VP"})
    assert err.value.content == [
        {"errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "Give the lead an email.",
         "fields": ["Email"]},
        {"errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
         "message": "Test companies are not allowed.", "fields": []}]
    rid = sf.Lead.create({"LastName": "Doe", "Company": "Acme", "Email": "pat@acme.com",
                          "Title": "VP"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.Lead.update(rid, {"Email": None})        # the rule sees the whole record
    assert err.value.content[0]["fields"] == ["Email"]
    assert sf.Lead.update(rid, {"Company": "Acme Ltd"}) == 204
    assert sandbox.app.salesforce.get("Lead", rid)["Email"] == "pat@acme.com"


def test_collections_carry_the_failures_per_record(sandbox: Sandbox, sf: Salesforce) -> None:
    sandbox.app.salesforce.setup({"validation_rules": RULES[:1]})
    res = sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Lead"}, "LastName": "A", "Company": "x", "Email": "a@x.com"},
        {"attributes": {"type": "Lead"}, "LastName": "B", "Company": "x"},
        {"attributes": {"type": "Contact"}, "LastName": "C"}]})
    assert res[0]["success"] and res[2]["success"]
    assert res[1] == {"success": False, "errors": [{
        "statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "Give the lead an email.",
        "fields": ["Email"]}]}


def test_bad_rules_are_a_400_that_names_the_rule(sandbox: Sandbox) -> None:
    bad = dict(RULES[0], error_condition="ISBLANK(Emial)")
    resp = setup(sandbox, {"validation_rules": [RULES[1], bad]})
    assert resp.status_code == 400
    assert resp.json()["error"] == ("validation_rules[1] Lead.Email_Required: error_condition: "
                                    "Field Emial does not exist. Check spelling.")
    assert sandbox.app.salesforce.store.validation_rules.dump() == []   # all or nothing
    for body, words in [({"validation_rules": [dict(RULES[0], sobject="Nope")]}, "unknown sobject"),
                        ({"validation_rules": [dict(RULES[0], error_field="Nope")]}, "not a field"),
                        ({"validation_rules": [dict(RULES[0], name="bad name")]}, "API name"),
                        ({"validation_rules": [dict(RULES[0], error_message="")]}, "error_message"),
                        ({"validation_rules": [dict(RULES[0], colour="red")]}, "unknown keys")]:
        resp = setup(sandbox, body)
        assert resp.status_code == 400 and words in resp.json()["error"], body


def test_rules_replace_by_name_and_round_trip_through_a_dataset(sandbox: Sandbox, tmp_path: Path) -> None:
    sfa = sandbox.app.salesforce
    sfa.add_validation_rule("Lead", "Email_Required", "ISBLANK(Email)", "first")
    sfa.add_validation_rule("Lead", "email_required", "ISBLANK(Email)", "second", error_field="Email")
    assert [r["error_message"] for r in sfa.store.validation_rules.dump()] == ["second"]
    dataset = sandbox.app.dump()
    path = tmp_path / "org.json"
    path.write_text(json.dumps(dataset))
    with Sandbox(data=path) as other:                 # as `leadsync sandbox serve --data`
        with pytest.raises(Exception) as err:
            other.app.salesforce.insert("Lead", {"LastName": "x", "Company": "y"})
        assert err.value.code == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
        assert err.value.message == "second"
    with pytest.raises(DatasetError):
        sandbox.app.load({"salesforce": {"validation_rules": [dict(RULES[0], error_condition="(")]}})


def test_dataset_records_are_loaded_without_running_rules(sandbox: Sandbox) -> None:
    sandbox.app.load({"salesforce": {"validation_rules": RULES[:1],
                                     "records": {"Lead": [{"LastName": "Old", "Company": "x"}]}}})
    assert len(sandbox.app.salesforce.records("Lead")) == 1


# -- required custom fields -------------------------------------------------------------------

def test_required_custom_fields(sandbox: Sandbox, sf: Salesforce) -> None:
    sandbox.app.load({"salesforce": {"schema": {"Lead": {
        "Region__c": {"type": "string", "required": True},
        "Tier__c": {"type": "string", "required": True, "defaultValue": "Bronze"}}}}})
    described = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    assert (described["Region__c"]["nillable"], described["Region__c"]["defaultedOnCreate"],
            described["Region__c"]["createable"]) == (False, False, True)
    assert described["Tier__c"]["defaultedOnCreate"] is True
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.Lead.create({"LastName": "Doe", "Company": "Acme"})
    assert err.value.content == [{"errorCode": "REQUIRED_FIELD_MISSING",
                                  "message": "Required fields are missing: [Region__c]",
                                  "fields": ["Region__c"]}]
    rid = sf.Lead.create({"LastName": "Doe", "Company": "Acme", "Region__c": "EMEA"})["id"]
    assert sandbox.app.salesforce.get("Lead", rid)["Tier__c"] == "Bronze"
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.Lead.update(rid, {"Region__c": None})
    assert err.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
