"""Errors carry no email and no SOQL values, and are capped, wherever they are kept: the
exception an admin sees, the run history, and the ledger's parked reason."""

from __future__ import annotations

from connector.core.model import Action, Outcome, Status
from connector.engine.apply import failed
from connector.errors import ApiError, ConfigError, RecordError

EMAILS = ", ".join(f"person{i}@example.com" for i in range(300))


def test_an_api_error_listing_300_emails_is_redacted_and_capped():
    exc = ApiError(f"MALFORMED_QUERY: SELECT Id FROM Lead WHERE Email IN ('{EMAILS}')",
                   service="salesforce", code="MALFORMED_QUERY")
    assert "@" not in exc.message and "person1" not in str(exc)
    assert len(exc.message) <= 500 and "SELECT Id FROM Lead" in exc.message


def test_a_record_error_hides_the_address_it_names():
    assert "bob@acme.example" not in str(RecordError("invalid email address: bob@acme.example"))


def test_a_configuration_error_keeps_the_admins_own_words():
    # an owner named by username is the admin's configuration, not a person's form data
    assert "max@acme.com" in str(ConfigError("no active user max@acme.com", key="routing.rules[0]"))


def test_the_ledgers_parked_reason_is_redacted():
    outcome = Outcome("c1", "f1", 1, "bob@acme.example", Action.CREATE_LEAD, Status.PENDING)
    failed(outcome, "DUPLICATE_VALUE", f"duplicate value found: Email duplicates {EMAILS}")
    assert outcome.status is Status.FAILED and outcome.error is not None
    assert "@" not in outcome.error and len(outcome.error) <= 500
