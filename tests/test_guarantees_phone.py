"""Issue 17, item 2: the phone transform writes exactly one valid number or nothing.

Read with libphonenumber in a configurable region (``[options] phone_region`` for the
mapping file, ``phone_region`` per field, ``US`` by default); anything else is left out of
the record with a note, never turned into digits that dial someone else."""

from __future__ import annotations

import pytest

from connector.config.mapping_file import MappingError, parse_mapping
from connector.core.model import Submission
from connector.core.normalise import to_response
from connector.core.transforms import Dropped, Target, apply_transforms, phone

US = Target("Lead", "Phone")
GB = Target("Lead", "Phone", phone_region="GB")


@pytest.mark.parametrize("given", [
    "call me after 5pm",                              # was "5"
    "415 555 0100 / 415 555 0101",                    # two numbers: was one 20-digit number
    "+1 415 555 0100 +44 20 7946 0958",               # was one 23-digit number
    "4155550100415555010144",                         # digits, but no number
    "12",
    "+1 (555) 010-2000",                              # no such area code
    "415 555 0100, after 5pm",                        # a digit outside the number
])
def test_a_value_that_is_not_exactly_one_valid_number_is_dropped(given):
    with pytest.raises(Dropped):
        phone(given, US)


def test_the_readme_examples_hold():
    assert phone("0044 20 7946 0958 ext. 12", US) == "+442079460958 x12"
    assert phone("+1 (415) 555-0100", US) == "+14155550100"


def test_a_national_number_is_read_in_the_configured_region():
    assert phone("020 7946 0958", GB) == "+442079460958"
    with pytest.raises(Dropped, match="region US"):
        phone("020 7946 0958", US)
    assert phone("(415) 555-0100", US) == "+14155550100"
    assert phone("+1 415 555 0100", GB) == "+14155550100"     # written internationally: any region


def test_a_dropped_number_is_a_note_not_a_value():
    value, notes = apply_transforms(("trim", "phone"), "call me after 5pm", US)
    assert value is None and len(notes) == 1 and notes[0].endswith("; dropped")


MAPPING = """\
[options]
phone_region = "gb"

[fields.email]
lead = "Email"

[fields.phone]
lead = "Phone"
transforms = ["phone"]

[fields.mobilephone]
lead = "MobilePhone"
transforms = ["phone"]
phone_region = "DE"
"""


def test_the_mapping_file_sets_the_region_for_the_file_and_per_field():
    mapping = parse_mapping(MAPPING)
    regions = {spec.form_field: spec.phone_region for spec in mapping.fields}
    assert regions == {"email": "GB", "phone": "GB", "mobilephone": "DE"}
    sub = Submission("c-1", "f-1", 1_700_000_000_000,
                     {"email": "a@b.example", "phone": "020 7946 0958", "mobilephone": "030 123456"})
    r = to_response(sub, mapping, campaign_id="701", member_status="Responded")
    assert r.lead_fields["Phone"] == "+442079460958"
    assert r.lead_fields["MobilePhone"] == "+4930123456"


def test_a_two_number_answer_leaves_the_field_out_with_a_note():
    sub = Submission("c-1", "f-1", 1_700_000_000_000,
                     {"email": "a@b.example", "phone": "020 7946 0958 or 020 7946 0959"})
    r = to_response(sub, parse_mapping(MAPPING), campaign_id="701", member_status="Responded")
    assert "Phone" not in r.lead_fields
    assert r.notes == ("phone -> Lead.Phone: '020 7946 0958 or 020 7946 0959' holds 2 phone "
                       "numbers, not one; dropped",)


@pytest.mark.parametrize("text, key", [
    ('[options]\nphone_region = "XX"\n[fields.email]\nlead = "Email"\n', "options.phone_region"),
    ('[options]\ncolour = "red"\n[fields.email]\nlead = "Email"\n', "options.colour"),
    ('[fields.email]\nlead = "Email"\n[fields.phone]\nlead = "Phone"\nphone_region = 44\n',
     "fields.phone.phone_region"),
])
def test_a_wrong_region_is_a_mapping_error_naming_its_line(text, key):
    with pytest.raises(MappingError) as caught:
        parse_mapping(text, "m.toml")
    assert caught.value.key == key and caught.value.line > 0
