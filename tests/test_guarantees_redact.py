"""Issue 17, item 7: error text carries no email address and no SOQL values, and is capped;
``connector.core.redact.redact`` is the one helper, and the core's own errors use it."""

from __future__ import annotations

import pytest

from connector.core.normalise import normalise_email
from connector.core.redact import MAX_ERROR_LENGTH, redact
from connector.errors import RecordError


@pytest.mark.parametrize("text, expected", [
    ("INVALID_EMAIL_ADDRESS: Email: invalid email address: bob.smith+x@eu.acme.co.uk",
     "INVALID_EMAIL_ADDRESS: Email: invalid email address: <email>"),
    ("DUPLICATE_VALUE: duplicate value found: Email duplicates Bob <BOB@Acme.Example> on 00Q1",
     "DUPLICATE_VALUE: duplicate value found: Email duplicates Bob <<email>> on 00Q1"),
    ("HubSpot GET /contacts/v1/contact/email/jane%40acme.example/profile failed",
     "HubSpot GET /contacts/v1/contact/email/<email>/profile failed"),
    ("a plain message with no personal data (00Q000000000001AAA)",
     "a plain message with no personal data (00Q000000000001AAA)"),
])
def test_email_addresses_become_a_placeholder(text, expected):
    assert redact(text) == expected


def test_soql_keeps_its_shape_and_loses_its_values():
    soql = ("MALFORMED_QUERY: \nSELECT Id, Email FROM Lead WHERE Email IN ('bob@acme.example', "
            "'o\\'brien@x.io') AND LastName = 'Smith' AND IsConverted = false\n ^\nERROR at Row:1")
    out = redact(soql)
    assert "bob" not in out and "brien" not in out and "Smith" not in out
    assert "SELECT Id, Email FROM Lead WHERE Email IN ('?', '?') AND LastName = '?'" in out
    assert "IsConverted = false" in out


def test_text_without_a_query_keeps_its_quotes():
    assert redact("field 'Title' is not writable") == "field 'Title' is not writable"


def test_long_text_is_capped():
    out = redact("x" * 5000)
    assert len(out) == MAX_ERROR_LENGTH == 500 and out.endswith("…")
    assert redact("y" * 100, limit=10) == "y" * 9 + "…"
    assert redact("short") == "short"


def test_an_invalid_address_is_not_kept_in_the_records_error():
    with pytest.raises(RecordError) as caught:
        normalise_email("bob@acme")           # no dot: invalid, but still someone's address
    assert "bob" not in str(caught.value) and "<email>" in str(caught.value)
    with pytest.raises(RecordError, match="not-an-email"):
        normalise_email("not-an-email")       # not an address: says what was wrong, as before


def test_a_quoted_address_keeps_its_quotes():
    assert redact("not a valid email address: 'bob@acme.example'") == \
        "not a valid email address: '<email>'"
    assert redact("o'brien@acme.example") == "<email>"
