"""The mapping file and its rules: loading (both formats, errors by line), to_response, and
field_changes on a record that exists (progressive profiling without trampling sales)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.errors import ConfigError, RecordError
from connector.config.mapping_file import MappingError, load_mapping, parse_mapping
from connector.core.normalise import NOT_PROVIDED, FieldMapping, FieldSpec, field_changes, is_blank, to_response
from connector.core.model import Submission
from connector.core.schema import FieldInfo, ObjectSchema, PicklistValue

ROOT = Path(__file__).resolve().parent.parent

NEW = """\
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

[fields.phone]
lead = "Phone"
contact = "Phone"
rule = "overwrite"
transforms = ["phone"]

[fields.country]
lead = "Country"
contact = "MailingCountry"
transforms = ["country"]

[fields.state]
lead = "State"
transforms = ["state"]

[fields.lifecyclestage]
lead = "Rating"
rule = "on_create_only"
transforms = ["map"]
map = { hot = "Hot", warm = "Warm", cold = "Cold" }

[fields.secret]
lead = "Description"
rule = "never"

[fields.numemployees]
lead = "NumberOfEmployees"
"""


def sub(**values: str) -> Submission:
    return Submission("conv-1", "form-1", 1_700_000_000_000, values)


def respond(mapping: FieldMapping, schema=None, **values: str):
    return to_response(sub(**values), mapping, campaign_id="701x", member_status="Responded",
                       schema=schema)


@pytest.fixture
def mapping() -> FieldMapping:
    return parse_mapping(NEW, "m.toml")


# -- loading -----------------------------------------------------------------------------

def test_new_format_loads_with_lines_rules_and_transforms(mapping):
    spec = {s.form_field: s for s in mapping.fields}
    assert spec["phone"] == FieldSpec("phone", "Phone", "Phone", "overwrite", ("phone",), {}, 20)
    assert spec["firstname"].line == 8 and spec["firstname"].rule == "fill_blank"
    assert spec["lifecyclestage"].value_map == {"hot": "Hot", "warm": "Warm", "cold": "Cold"}
    assert mapping.defaults == {"LeadSource": "Web"} and mapping.default_lines == {"LeadSource": 2}
    assert mapping.email_field == "email"


def test_old_format_still_loads_as_lead_only_fill_blank(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text('[lead]\nemail = "Email"\nJobTitle = "Title"\n\n[defaults]\nLeadSource = "Web"\n')
    m = load_mapping(path)
    assert m.lead == {"email": "Email", "jobtitle": "Title"}
    assert [(s.form_field, s.lead, s.contact, s.rule, s.line) for s in m.fields] == [
        ("email", "Email", None, "fill_blank", 2), ("jobtitle", "Title", None, "fill_blank", 3)]
    r = respond(m, email="a@b.example", JobTitle="CTO")
    assert r.lead_fields == {"LeadSource": "Web", "Title": "CTO", "Email": "a@b.example",
                             "LastName": NOT_PROVIDED, "Company": NOT_PROVIDED}
    assert r.contact_fields == {}


def test_the_shipped_default_mapping_loads():
    m = load_mapping(ROOT / "mappings" / "default.toml")
    assert m.email_field == "email" and m.rule_for("Lead", "Phone") == "fill_blank"
    assert m.rule_for("Contact", "MailingCountry") == "fill_blank"


@pytest.mark.parametrize("text, key, line, words", [
    ('[fields.email]\nlead = "Email"\n[fields.x]\nlead = "Title"\nrule = "sometimes"\n',
     "fields.x.rule", 5, "unknown rule 'sometimes'"),
    ('[fields.email]\nlead = "Email"\n[fields.x]\nlead = "Title"\ntransforms = ["shout"]\n',
     "fields.x.transforms", 5, "unknown transform 'shout'"),
    ('[fields.email]\nlead = "Email"\n\n[fields.x]\nlaed = "Title"\n', "fields.x.laed", 5, "unknown key"),
    ('[fields.email]\nlead = "Email"\n[fields.x]\nrule = "never"\n', "fields.x", 3, "names no Salesforce field"),
    ('[fields.email]\nlead = "Email"\n[fields.x]\nlead = "Bad Name"\n', "fields.x.lead", 4, "API name"),
    ('[fields.email]\nlead = "Email"\n[fields.x]\nlead = "Rating"\ntransforms = ["map"]\n',
     "fields.x.transforms", 5, "needs a map"),
    ('[fields.firstname]\nlead = "FirstName"\n', "fields.email", 0, "no form field is mapped to Email"),
    ('[lead]\nemail = "Email"\n[fields.x]\nlead = "Title"\n', "lead", 1, "not both"),
    ('[leads]\nemail = "Email"\n', "leads", 1, "unknown section"),
    ('[fields.email]\nlead = "Email"\n[fields.Email]\nlead = "Title"\n', "fields.email", 3, "mapped twice"),
])
def test_mistakes_are_config_errors_with_key_and_line(text, key, line, words):
    with pytest.raises(MappingError) as info:
        parse_mapping(text, "m.toml")
    err = info.value
    assert isinstance(err, ConfigError) and err.exit_code == 2
    assert err.key == key and err.line == line and words in str(err)
    if line:
        assert f"line {line}" in str(err)


def test_a_map_without_the_transform_is_applied_last():
    m = parse_mapping('[fields.email]\nlead = "Email"\n[fields.x]\nlead = "Rating"\n'
                      'transforms = ["trim"]\nmap = { h = "Hot" }\n')
    assert m.fields[1].transforms == ("trim", "map")


def test_missing_file_and_bad_toml_name_the_setting(tmp_path):
    with pytest.raises(ConfigError, match="sync.mapping"):
        load_mapping(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("[fields.email\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_mapping(tmp_path / "bad.toml")


# -- to_response -------------------------------------------------------------------------

def test_response_has_create_values_contact_values_form_values(mapping):
    r = respond(mapping, Email=" Bob@Acme.example ", firstname="  bob ", phone="+1 (415) 555-0100",
                country="usa", lifecyclestage="HOT", secret="not for Salesforce", numemployees="1,200",
                utm_source="x\x00y")
    assert r.email == "bob@acme.example"
    assert r.lead_fields == {
        "LeadSource": "Web", "Email": "bob@acme.example", "FirstName": "Bob", "Phone": "+14155550100",
        "Country": "United States", "Rating": "Hot", "NumberOfEmployees": "1200",
        "LastName": NOT_PROVIDED, "Company": NOT_PROVIDED}
    assert r.contact_fields == {"FirstName": "Bob", "Phone": "+14155550100",
                                "MailingCountry": "United States", "Email": "bob@acme.example"}
    assert r.form_values["email"] == "Bob@Acme.example" and r.form_values["utm_source"] == "xy"
    assert r.notes == ()


def test_values_that_cannot_be_placed_are_dropped_with_notes_not_failures(mapping):
    r = respond(mapping, email="a@b.example", phone="call me", numemployees="lots", lastname="   ")
    assert "Phone" not in r.lead_fields and "NumberOfEmployees" not in r.lead_fields
    assert r.lead_fields["LastName"] == NOT_PROVIDED
    assert r.notes == ("phone -> Lead.Phone: 'call me' has no digits to dial; dropped",
                       "numemployees -> Lead.NumberOfEmployees: 'lots' is not a whole number; dropped",
                       "phone -> Contact.Phone: 'call me' has no digits to dial; dropped")
    # the names the ledger keeps (never the answers)
    assert r.left_out == ("Lead.Phone", "Lead.NumberOfEmployees", "Contact.Phone")


def test_a_value_cut_to_length_is_changed_not_left_out(mapping):
    r = respond(mapping, email="a@b.example", firstname="x" * 50, phone="+1 415 555 0100")
    assert r.notes and r.left_out == ()


def test_overlong_values_are_cut_with_a_note(mapping):
    r = respond(mapping, email="a@b.example", firstname="x" * 50)
    assert r.lead_fields["FirstName"] == "X" + "x" * 39
    assert "cut to the field's 40 characters (was 50)" in r.notes[0]


@pytest.mark.parametrize("values, code", [({}, "MISSING_EMAIL"), ({"email": "not-an-email"}, "INVALID_EMAIL")])
def test_unusable_email_is_a_record_error(mapping, values, code):
    with pytest.raises(RecordError) as info:
        respond(mapping, **values)
    assert info.value.code == code


def _schema_with_picklists() -> dict[str, ObjectSchema]:
    lead = [FieldInfo("Email", "email", 80), FieldInfo("FirstName", "string", 10),
            FieldInfo("Country", "string", 80), FieldInfo("State", "string", 80),
            FieldInfo("CountryCode", "picklist", 10, restricted=True,
                      picklist=(PicklistValue("US", "United States"), PicklistValue("DE", "Germany"))),
            FieldInfo("Rating", "picklist", 255, restricted=True,
                      picklist=(PicklistValue("Hot", "Hot"), PicklistValue("Cold", "Cold"))),
            FieldInfo("NumberOfEmployees", "int")]
    return {"Lead": ObjectSchema("Lead", {f.name.lower(): f for f in lead})}


def test_schema_lengths_and_picklists_govern(mapping):
    schema = _schema_with_picklists()
    r = respond(mapping, schema, email="a@b.example", firstname="bartholomew", country="Deutschland",
                lifecyclestage="warm", numemployees="12.0")
    assert r.lead_fields["FirstName"] == "Bartholome"                    # the org's length: 10
    assert r.lead_fields["Country"] == "Germany"                         # CountryCode's label
    assert "Rating" not in r.lead_fields                                 # Warm: not in the org's picklist
    assert r.lead_fields["NumberOfEmployees"] == "12"
    assert any("'Warm' is not a value of the restricted picklist Lead.Rating" in n for n in r.notes)
    r = respond(mapping, schema, email="a@b.example", country="France")
    assert "Country" not in r.lead_fields
    assert "not a country in Lead.CountryCode's picklist; dropped" in r.notes[0]


def test_state_reads_the_records_country(mapping):
    assert respond(mapping, email="a@b.example", state="wa", country="Australia"
                   ).lead_fields["State"] == "Western Australia"
    assert respond(mapping, email="a@b.example", state="wa").lead_fields["State"] == "Washington"


# -- rules on a record that exists -------------------------------------------------------

@pytest.mark.parametrize("rule, before, incoming, change", [
    ("fill_blank", None, "Bob", (None, "Bob")),
    ("fill_blank", "", "Bob", ("", "Bob")),
    ("fill_blank", "  ", "Bob", ("  ", "Bob")),
    ("fill_blank", NOT_PROVIDED, "Smith", (NOT_PROVIDED, "Smith")),      # the placeholder is blank
    ("fill_blank", "Robert", "Bob", None),                               # never overwrites
    ("fill_blank", None, NOT_PROVIDED, None),                            # a placeholder fills nothing
    ("overwrite", "Robert", "Bob", ("Robert", "Bob")),
    ("overwrite", None, "Bob", (None, "Bob")),
    ("overwrite", "Bob", "Bob", None),                                   # same: no write
    ("overwrite", "Robert", "", None),                                   # blank never erases
    ("overwrite", 500.0, "500", None),                                   # numbers by value
    ("on_create_only", None, "Bob", None),
    ("never", None, "Bob", None),
])
def test_rules_table(rule, before, incoming, change):
    m = parse_mapping(f'[fields.email]\nlead = "Email"\ncontact = "Email"\n'
                      f'[fields.x]\nlead = "Title"\ncontact = "Title"\nrule = "{rule}"\n')
    for sobject in ("Lead", "Contact"):
        got = field_changes(m, sobject, {"Title": incoming}, {"Title": before, "Id": "00Q..."})
        assert got == ({"Title": change} if change else {}), sobject


def test_fill_blank_does_not_overwrite_what_sales_typed(mapping):
    r = respond(mapping, email="bob@acme.example", firstname="bobby", lastname="Smith", company="Acme",
                phone="415 555 0100")
    current = {"Id": "00Qx", "Email": "Bob@Acme.example", "FirstName": "Robert", "LastName": NOT_PROVIDED,
               "Company": "Acme Corporation", "Phone": "+1 415 555 0199", "LeadSource": None}
    assert field_changes(mapping, "Lead", r.lead_fields, current) == {
        "LastName": (NOT_PROVIDED, "Smith"),                             # placeholder filled
        "Phone": ("+1 415 555 0199", "+14155550100"),                    # overwrite rule
    }


def test_email_defaults_and_unmapped_fields_are_never_updated(mapping):
    incoming = {"Email": "new@acme.example", "LeadSource": "Web", "OwnerId": "005x", "Rating": "Hot",
                "Description": "secret"}
    assert field_changes(mapping, "Lead", incoming, {"Email": None, "LeadSource": None}) == {}
    assert mapping.rule_for("Lead", "Email") == "on_create_only"
    assert mapping.rule_for("Lead", "LeadSource") is None
    assert mapping.rule_for("Lead", "description") == "never"
    assert mapping.rule_for("Contact", "Rating") is None


def test_current_values_are_matched_case_insensitively(mapping):
    assert field_changes(mapping, "Lead", {"FirstName": "Bob"}, {"firstname": "Robert"}) == {}


def test_read_fields_are_the_fields_rules_compare(mapping):
    assert mapping.read_fields("Lead") == ("FirstName", "LastName", "Company", "Phone", "Country",
                                           "State", "NumberOfEmployees")
    assert mapping.read_fields("Contact") == ("FirstName", "LastName", "Phone", "MailingCountry")


@pytest.mark.parametrize("value, blank", [(None, True), ("", True), ("  ", True), (NOT_PROVIDED, True),
                                          (" [not provided] ", True), ("x", False), (0, False)])
def test_is_blank(value, blank):
    assert is_blank(value) is blank


# -- answers placed once per run ---------------------------------------------------------------

def test_a_repeated_answer_is_placed_once_and_comes_out_the_same(mapping, monkeypatch):
    import connector.core.normalise as m
    calls = []
    real = m.field_value
    monkeypatch.setattr(m, "field_value", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    first = respond(mapping, email="a@example.com", jobtitle="  VP   Sales ", country="usa", state="wa")
    placed = len(calls)
    again = respond(mapping, email="b@example.com", jobtitle="  VP   Sales ", country="usa", state="wa")
    assert len(calls) == placed                      # every answer came from the memo
    assert {k: v for k, v in again.lead_fields.items() if k != "Email"} == \
        {k: v for k, v in first.lead_fields.items() if k != "Email"}
    assert again.notes == first.notes


def test_a_state_is_placed_within_each_records_country_even_when_memoised(mapping):
    us = respond(mapping, email="a@example.com", country="US", state="wa")
    au = respond(mapping, email="b@example.com", country="Australia", state="wa")
    us_again = respond(mapping, email="c@example.com", country="US", state="wa")
    assert (us.lead_fields["State"], au.lead_fields["State"], us_again.lead_fields["State"]) == \
        ("Washington", "Western Australia", "Washington")


def test_the_memo_stops_growing_at_its_bound(mapping, monkeypatch):
    import connector.core.normalise as m
    monkeypatch.setattr(m._FieldPlan, "MEMO_LIMIT", 5)
    for i in range(20):
        respond(mapping, email=f"p{i}@example.com", firstname=f"name{i}")
    plans = m._field_plans(mapping, None)
    assert max(len(p.memo) for p in plans.plans) == 5
    late = respond(mapping, email="z@example.com", firstname="name19")   # past the bound: worked out
    assert late.lead_fields["FirstName"] == respond(mapping, email="y@example.com",
                                                    firstname="name19").lead_fields["FirstName"]


def test_each_forms_fields_find_their_plans_and_a_later_field_still_wins(monkeypatch):
    import connector.core.normalise as m
    two = parse_mapping('[fields.email]\nlead = "Email"\n\n[fields.title]\nlead = "Title"\n\n'
                        '[fields.jobtitle]\nlead = "Title"\n\n[fields.company]\nlead = "Company"\n',
                        "m.toml")
    monkeypatch.setattr(m._PlanSet, "FIELD_SETS_LIMIT", 2)
    both = respond(two, email="a@x.com", title="CTO", jobtitle="Chief")
    assert both.lead_fields["Title"] == "Chief"           # file order: jobtitle comes later
    assert respond(two, email="b@x.com", title="CTO").lead_fields["Title"] == "CTO"
    assert respond(two, email="c@x.com", company="Acme").lead_fields["Company"] == "Acme"
    assert "Title" not in respond(two, email="c@x.com", company="Acme").lead_fields
    plans = m._field_plans(two, None)
    assert len(plans.by_fields) == 2                      # the bound: a third form is worked out
    again = respond(two, email="d@x.com", jobtitle="VP", title="Head")   # fields in another order
    assert again.lead_fields["Title"] == "VP"
