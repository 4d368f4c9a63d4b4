"""The parked workflow (list, retry by selection, dismiss), owners and forms that pause alone,
and the daemon's transient retries, against the sandbox over loopback (issue 21)."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connector.adapters.sqlite.ledger import State
from connector.adapters.transport import RetryPolicy
from connector.cli import main
from connector.commands.cycle import Cycle, steps_for
from connector.commands.parked import due_transient, retry_transient
from connector.core.parked import (RETRY_BASE_SECONDS, RetryPlan, first_plan, is_transient,
                                   retry_delay)
from connector.engine.wiring import clients
from sync_helpers import Org

RULE = 'LastName = "Junk"'


@pytest.fixture
def org(sandbox, tmp_path):
    o = Org(sandbox, tmp_path / "state" / "leadsync.db")
    o.add_forms(2)
    return o


def cli(org: Org, config: Path, *args: str) -> Any:
    return CliRunner().invoke(main, [*args, "--config", str(config)],
                              env=org.env({**os.environ, "LEADSYNC_CONFIG": ""}))


def rows(org: Org) -> dict[str, dict[str, Any]]:
    state = State.open_read_only(org.state_path)
    try:
        return {r["email"]: r for r in state.rows()}
    finally:
        state.close()


def parked_world(org: Org, tmp_path: Path) -> Path:
    """Three parked responses: two refused by a validation rule (form 0 and 1), one with an
    email that is not one (form 1), and one applied."""
    org.sf.add_validation_rule("Lead", "NoJunk", RULE, "Junk is not a lead")
    org.fill(0, "junk.a@acme.example", lastname="Junk")
    org.fill(1, "junk.b@acme.example", lastname="Junk")
    org.fill(1, "not-an-email", lastname="Closed")
    org.fill(0, "fine@acme.example", lastname="Fine")
    config = org.write_config(tmp_path / "c.toml")
    result = cli(org, config, "sync")
    assert result.exit_code == 3, result.output
    return config


def test_list_filters_by_code_form_and_email_and_prints_csv(org, tmp_path):
    config = parked_world(org, tmp_path)
    listed = cli(org, config, "parked", "list")
    assert listed.exit_code == 0, listed.output
    for email in ("junk.a@acme.example", "junk.b@acme.example", "not-an-email"):
        assert email in listed.output                    # the admin's own terminal
    assert "fine@acme.example" not in listed.output
    assert "3 parked" in listed.output and "validation rule" in listed.output

    by_code = cli(org, config, "parked", "list", "--code", "FIELD_CUSTOM_VALIDATION_EXCEPTION")
    assert "junk.a@" in by_code.output and "junk.b@" in by_code.output
    assert "not-an-email" not in by_code.output
    by_form = cli(org, config, "parked", "list", "--form", org.forms[1])
    assert "junk.a@" not in by_form.output and "junk.b@" in by_form.output and "not-an-email" in by_form.output
    by_entry = cli(org, config, "parked", "list", "--form", "campaigns[1]")
    assert by_entry.output == by_form.output
    by_email = cli(org, config, "parked", "list", "--email", "NOT-an-email")
    assert "not-an-email" in by_email.output and "junk.a@" not in by_email.output and "junk.b@" not in by_email.output
    bad = cli(org, config, "parked", "list", "--form", "campaigns[7]")
    assert bad.exit_code == 2 and "--form" in bad.output

    as_csv = cli(org, config, "parked", "list", "--csv")
    table = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert sorted(r["email"] for r in table) == ["junk.a@acme.example", "junk.b@acme.example",
                                                   "not-an-email"]
    assert {r["transient"] for r in table} == {"False"}
    assert all(r["conversion_id"] and r["error_code"] for r in table)


def test_retry_takes_only_what_the_filters_select(org, tmp_path):
    config = parked_world(org, tmp_path)
    before = rows(org)
    org.sf.add_validation_rule("Lead", "NoJunk", RULE, "Junk is not a lead", active=False)

    # --form: only form 0's junk; form 1's rows are not even tried (attempts unchanged).
    result = cli(org, config, "retry", "--form", "campaigns[0]")
    assert result.exit_code == 0, result.output
    after = rows(org)
    assert after["junk.a@acme.example"]["status"] == "applied"
    assert after["junk.b@acme.example"]["attempts"] == before["junk.b@acme.example"]["attempts"]
    assert after["not-an-email"]["attempts"] == before["not-an-email"]["attempts"]

    # --id: exactly that one.
    junk_b = after["junk.b@acme.example"]["conversion_id"]
    result = cli(org, config, "retry", "--id", junk_b)
    assert result.exit_code == 0, result.output
    after = rows(org)
    assert after["junk.b@acme.example"]["status"] == "applied"
    assert after["not-an-email"]["status"] == "failed"

    # --code of a cause still there: tried again (this run's), parked again.
    code = after["not-an-email"]["error_code"]
    result = cli(org, config, "retry", "--code", code, "--json")
    assert result.exit_code == 3
    assert rows(org)["not-an-email"]["run_id"] == json.loads(result.output)["run_id"]
    assert rows(org)["not-an-email"]["status"] == "failed"
    for email in ("junk.a@acme.example", "junk.b@acme.example", "fine@acme.example"):
        assert len(org.leads(email)) == 1


def test_retry_without_a_filter_takes_every_parked_row(org, tmp_path):
    config = parked_world(org, tmp_path)
    org.sf.add_validation_rule("Lead", "NoJunk", RULE, "Junk is not a lead", active=False)
    result = cli(org, config, "retry")
    assert result.exit_code == 3, result.output
    after = rows(org)
    assert after["junk.a@acme.example"]["status"] == after["junk.b@acme.example"]["status"] == "applied"
    assert after["not-an-email"]["status"] == "failed"


def test_a_dismissed_response_is_kept_never_retried_and_not_drift(org, tmp_path):
    config = parked_world(org, tmp_path)
    junk = rows(org)["junk.a@acme.example"]
    result = cli(org, config, "parked", "dismiss", "--id", junk["conversion_id"],
                 "--note", "a test fill from the web team")
    assert result.exit_code == 0, result.output
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in result.output

    kept = rows(org)["junk.a@acme.example"]
    assert kept["status"] == "dismissed" and kept["error_code"] == junk["error_code"]
    listed = cli(org, config, "parked", "list")
    assert "junk.a@" not in listed.output
    shown = cli(org, config, "parked", "list", "--all", "--csv")
    row = next(r for r in csv.DictReader(io.StringIO(shown.output)) if r["email"] == "junk.a@acme.example")
    assert row["status"] == "dismissed" and row["note"] == "a test fill from the web team"
    assert row["dismissed_by"] and row["dismissed_at"].startswith(str(datetime.now(timezone.utc).year))

    # Never retried, even once its cause is gone; a later sync with lookback skips it too.
    org.sf.add_validation_rule("Lead", "NoJunk", RULE, "Junk is not a lead", active=False)
    assert cli(org, config, "retry").exit_code == 3        # not-an-email is still parked
    assert cli(org, config, "sync").exit_code == 0
    assert rows(org)["junk.a@acme.example"]["status"] == "dismissed"
    assert rows(org)["junk.a@acme.example"]["attempts"] == junk["attempts"]
    assert org.leads("junk.a@acme.example") == []

    # Not drift for reconcile, nor for status' parked count or the health rules.
    recon = cli(org, config, "reconcile", "--since", "2025-01-01", "--json")
    assert rows(org)["not-an-email"]["conversion_id"] in recon.output   # still drift
    assert junk["conversion_id"] not in recon.output
    status = json.loads(cli(org, config, "status", "--json").output)
    assert status["parked"]["total"] == 1

    # A second dismissal, or an unknown id, changes nothing and says so (no email in it).
    again = cli(org, config, "parked", "dismiss", "--id", junk["conversion_id"], "--note", "x")
    assert again.exit_code == 2 and "--id" in again.output and "@" not in again.output
    empty = cli(org, config, "parked", "dismiss", "--id", "nope", "--note", " ")
    assert empty.exit_code == 2 and "--note" in empty.output


def test_reconcile_is_clean_once_the_only_parked_row_is_dismissed(org, tmp_path):
    org.sf.add_validation_rule("Lead", "NoJunk", RULE, "Junk is not a lead")
    org.fill(0, "junk@acme.example", lastname="Junk")
    config = org.write_config(tmp_path / "c.toml")
    assert cli(org, config, "sync").exit_code == 3
    assert cli(org, config, "reconcile", "--since", "2025-01-01").exit_code == 3
    junk = rows(org)["junk@acme.example"]
    assert cli(org, config, "parked", "dismiss", "--id", junk["conversion_id"],
               "--note", "known junk").exit_code == 0
    result = cli(org, config, "reconcile", "--since", "2025-01-01")
    assert result.exit_code == 0, result.output


def test_emails_stay_out_of_run_history_and_warnings(org, tmp_path):
    parked_world(org, tmp_path)
    db = sqlite3.connect(org.state_path)
    try:
        history = json.dumps(db.execute("SELECT * FROM runs").fetchall())
        history += json.dumps(db.execute("SELECT * FROM run_warnings").fetchall())
        history += json.dumps(db.execute("SELECT * FROM parked_notes").fetchall())
    finally:
        db.close()
    assert "@acme.example" not in history


# -- never halt for one bad piece -------------------------------------------------------------

def test_an_inactive_owner_falls_back_to_the_default_with_a_warning(org, tmp_path):
    gone = org.sf.add_user("Gone", username="gone@acme.example", active=False)
    boss = org.sf.add_user("Boss", username="boss@acme.example")
    routing = {"mode": "rules", "default_owner": "user:boss@acme.example",
               "rules": [{"owner": "user:gone@acme.example", "form": org.forms[0]},
                         {"owner": "user:nobody@acme.example", "form": org.forms[1]}]}
    org.fill(0, "ann@acme.example", lastname="Ann")
    org.fill(1, "bob@acme.example", lastname="Bob")
    report = org.sync(routing=routing)
    assert report.status == "ok", report.error
    for email in ("ann@acme.example", "bob@acme.example"):
        assert org.leads(email)[0]["OwnerId"][:15] == boss[:15] != gone[:15]
    subjects = [w["subject"] for w in report.warnings]
    assert subjects == ["routing.rules[0].owner", "routing.rules[1].owner"]
    assert "no active user with Username gone@acme.example" in report.warnings[0]["message"]

    config = tmp_path / "c.toml"
    org.write_config(config)
    with config.open("a") as f:
        f.write('[routing]\nmode = "rules"\ndefault_owner = "user:boss@acme.example"\n'
                f'[[routing.rules]]\nowner = "user:gone@acme.example"\nform = "{org.forms[0]}"\n')
    status = cli(org, config, "status")
    assert "routing.rules[0].owner" in status.output and "default owner" in status.output
    assert json.loads(cli(org, config, "status", "--json").output)["warnings"][0]["kind"] == "owner"


def test_a_rep_given_by_id_and_deactivated_falls_back_too(org):
    boss = org.sf.add_user("Boss", username="boss@acme.example")
    left = org.sf.add_user("Left", username="left@acme.example")
    routing = {"mode": "rules", "default_owner": "user:boss@acme.example",
               "rules": [{"owner": left, "form": org.forms[0]}]}
    org.fill(0, "ann@acme.example", lastname="Ann")
    first = org.sync(routing=routing)
    assert first.status == "ok" and first.warnings == []
    assert org.leads("ann@acme.example")[0]["OwnerId"][:15] == left[:15]
    org.sf.update("User", left, {"IsActive": False})      # the rep leaves
    org.fill(0, "bea@acme.example", lastname="Bea")
    second = org.sync(routing=routing)
    assert second.status == "ok", second.error
    assert org.leads("bea@acme.example")[0]["OwnerId"][:15] == boss[:15]
    assert [w["subject"] for w in second.warnings] == ["routing.rules[0].owner"]
    assert "no active user with Id" in second.warnings[0]["message"]


def test_without_a_usable_default_owner_only_its_leads_are_parked_and_retry_lands_them(
        org, tmp_path):
    """The default owner left the org and a rule's owner never existed: nothing to fall
    back to. Their Leads wait, parked with the config key (no name of a person); the rule
    whose owner is there goes on; once the default owner is back, retry creates the parked
    ones, owned as routing says."""
    org.add_forms(1)
    lin = org.sf.add_user("Lin", username="lin@acme.example")
    boss = org.sf.add_user("Boss", username="boss@acme.example", active=False)
    org.fill(0, "ann@acme.example", lastname="Ann")     # rule 0: Lin
    org.fill(1, "bob@acme.example", lastname="Bob")     # rule 1: an owner that never existed
    org.fill(2, "cy@acme.example", lastname="Cy")       # no rule: the default owner
    config = org.write_config(tmp_path / "c.toml", method="unique")
    with config.open("a") as f:
        f.write('[routing]\nmode = "rules"\ndefault_owner = "user:boss@acme.example"\n'
                f'[[routing.rules]]\nowner = "user:lin@acme.example"\nform = "{org.forms[0]}"\n'
                f'[[routing.rules]]\nowner = "user:nobody@acme.example"\nform = "{org.forms[1]}"\n')

    check = cli(org, config, "mappings", "check", "--json")
    problems = {p["where"]: p for p in json.loads(check.output)["routing"]["problems"]}
    assert check.exit_code == 3, check.output
    assert problems["routing.default_owner"]["level"] == "error"
    assert "parked until it is fixed" in problems["routing.default_owner"]["message"]
    assert problems["routing.rules[1].owner"]["level"] == "error"
    assert "routing.rules[0].owner" not in problems

    preview = cli(org, config, "sync", "--dry-run")
    assert preview.exit_code == 0, preview.output            # a preview: nothing parked yet
    assert "cannot own Leads in this org" in preview.output
    assert org.leads() == []                              # a dry run writes nothing

    first = cli(org, config, "sync", "--json")
    assert first.exit_code == 3, first.output              # partial: parked responses
    report = json.loads(first.output)
    assert [w["subject"] for w in report["warnings"]] == ["routing.default_owner",
                                                          "routing.rules[1].owner"]
    assert org.leads("ann@acme.example")[0]["OwnerId"][:15] == lin[:15]
    assert org.leads("bob@acme.example") == [] and org.leads("cy@acme.example") == []
    parked = rows(org)
    assert parked["ann@acme.example"]["status"] == "applied"
    for email, key in (("bob@acme.example", "routing.rules[1].owner"),
                       ("cy@acme.example", "routing.default_owner")):
        assert parked[email]["status"] == "failed"
        assert parked[email]["error_code"] == "OWNER_UNAVAILABLE"
        assert key in parked[email]["error"] and "@" not in parked[email]["error"]

    # Still gone: a retry parks them again, creates nothing, loses nothing.
    assert cli(org, config, "retry").exit_code == 3
    assert org.leads("cy@acme.example") == [] and rows(org)["cy@acme.example"]["status"] == "failed"

    # The default owner is back: retry creates both, each owned as routing says (the rule
    # whose owner never existed now falls back to the default owner).
    org.sf.update("User", boss, {"IsActive": True})
    check = cli(org, config, "mappings", "check", "--json")
    problems = {p["where"]: p for p in json.loads(check.output)["routing"]["problems"]}
    assert "routing.default_owner" not in problems
    assert problems["routing.rules[1].owner"]["level"] == "warning"   # falls back now
    assert "default owner user:boss@acme.example" in problems["routing.rules[1].owner"]["message"]
    again = cli(org, config, "retry")
    assert again.exit_code == 0, again.output
    for email in ("bob@acme.example", "cy@acme.example"):
        leads = org.leads(email)
        assert len(leads) == 1 and leads[0]["OwnerId"][:15] == boss[:15]
        assert rows(org)[email]["status"] == "applied"
    assert len(org.leads("ann@acme.example")) == 1         # nothing created twice


def test_a_form_hubspot_does_not_have_pauses_alone(org, tmp_path):
    org.fill(0, "ann@acme.example", lastname="Ann")
    org.fill(1, "bob@acme.example", lastname="Bob")
    org.forms.insert(1, "00000000-dead-beef-0000-000000000000")
    org.campaigns.insert(1, org.campaigns[0])
    report = org.sync()
    assert report.status == "partial" and report.exit_code == 3
    assert [p["entry"] for p in report.paused] == ["campaigns[1]"]
    assert "404" in report.paused[0]["message"]
    assert {r["status"] for r in rows(org).values()} == {"applied"}
    assert set(rows(org)) == {"ann@acme.example", "bob@acme.example"}

    state = State.open_read_only(org.state_path)
    try:
        from connector.adapters.sqlite.parked import last_run_warnings

        assert [w["subject"] for w in last_run_warnings(state.db)] == ["campaigns[1]"]
        assert state.watermark(org.forms[1]) is None
    finally:
        state.close()


# -- the daemon's transient retries ---------------------------------------------------------

def test_transient_codes_and_backoff_are_pure_rules():
    assert is_transient("UNABLE_TO_LOCK_ROW") and is_transient("HTTP_503") and is_transient("UNKNOWN_EXCEPTION")
    assert not is_transient("DUPLICATES_DETECTED") and not is_transient("HTTP_400")
    assert not is_transient(None) and not is_transient("FIELD_CUSTOM_VALIDATION_EXCEPTION")
    assert [retry_delay(n) for n in range(4)] == [300, 600, 1200, 2400]
    assert retry_delay(30) == 6 * 3600
    plan = first_plan("c1", 1000.0)
    assert plan == RetryPlan("c1", 0, 1000.0 + RETRY_BASE_SECONDS) and not plan.due(1000.0)
    assert plan.due(1300.0) and plan.after_try(1300.0) == RetryPlan("c1", 1, 1900.0)
    assert not RetryPlan("c1", 8, 0).due(10**9)      # then it waits for a person


class _Clock:
    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def test_the_daemon_step_retries_transient_rows_with_backoff(org, tmp_path):
    org.sf.add_validation_rule("Lead", "NoJunk", RULE, "Junk is not a lead")
    org.fill(0, "locked@acme.example", lastname="Junk")
    org.fill(1, "refused@acme.example", lastname="Junk")
    assert org.sync().status == "partial"
    # One of them parked as a locked row (the code a busy org gives); the other stays a
    # validation refusal, which needs a person.
    db = sqlite3.connect(org.state_path)
    db.execute("UPDATE ledger SET error_code = 'UNABLE_TO_LOCK_ROW' WHERE email = 'locked@acme.example'")
    db.commit()
    db.close()
    assert [name for name, _ in steps_for(org.settings())] == ["parked_retry"]

    settings = org.settings()
    state = State.open(org.state_path)
    logged: list[dict[str, Any]] = []
    try:
        state.lock()
        parked_at = datetime.fromisoformat(state.rows("failed")[0]["updated_at"]).timestamp()
        clock = _Clock(parked_at + 10)
        cycle = Cycle(settings=settings, state=state, clients=clients(settings, retry=RetryPolicy.fast()),
                      log=logged.append, should_stop=lambda: False, now=datetime.now(timezone.utc))
        assert retry_transient(cycle, clock=clock) is None           # not due yet
        clock.at = parked_at + RETRY_BASE_SECONDS + 1
        report = retry_transient(cycle, clock=clock)                 # due: tried, fails again
        assert report is not None and report.counts["pulled"] == 1
        locked = rows(org)["locked@acme.example"]
        # Parked again, now with the rule's own code: not transient, so the daemon lets it be.
        assert locked["error_code"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
        assert due_transient(state.db, clock.at + 10**6)[1] == {}
        # Had it been locked again, its next try backs off (the stored plan counts the try).
        state.db.execute("UPDATE ledger SET error_code = 'UNABLE_TO_LOCK_ROW' WHERE email = ?",
                         ["locked@acme.example"])
        due, plans, _ = due_transient(state.db, clock.at)
        assert due == [] and plans[locked["conversion_id"]].tries == 1
        assert plans[locked["conversion_id"]].next_try_at == clock.at + retry_delay(1)
        assert rows(org)["refused@acme.example"]["attempts"] == 1   # never tried by the daemon

        org.sf.add_validation_rule("Lead", "NoJunk", RULE, "Junk is not a lead", active=False)
        clock.at += retry_delay(1) - 1
        assert retry_transient(cycle, clock=clock) is None           # backoff: not yet
        clock.at += 2
        report = retry_transient(cycle, clock=clock)
        assert report is not None and report.status == "ok"
        assert rows(org)["locked@acme.example"]["status"] == "applied"
        assert rows(org)["refused@acme.example"]["status"] == "failed"
        assert due_transient(state.db, clock.at + 10**6)[1] == {}    # its plan is forgotten
    finally:
        state.close()
    assert len(org.leads("locked@acme.example")) == 1
    assert [e["event"] for e in logged] == ["parked_retry", "parked_retry"]
    assert "@" not in json.dumps(logged)


def _transient_world(org: Org) -> tuple[Any, State, Cycle, float]:
    """Three responses parked with a transient code, their cause gone; a cycle on them."""
    org.sf.add_validation_rule("Lead", "NoJunk", RULE, "Junk is not a lead")
    for i in range(3):
        org.fill(i % 2, f"locked{i}@acme.example", lastname="Junk")
    assert org.sync().status == "partial"
    db = sqlite3.connect(org.state_path)
    db.execute("UPDATE ledger SET error_code = 'UNABLE_TO_LOCK_ROW'")
    db.commit()
    db.close()
    org.sf.add_validation_rule("Lead", "NoJunk", RULE, "Junk is not a lead", active=False)
    settings = org.settings()
    state = State.open(org.state_path)
    state.lock()
    cycle = Cycle(settings=settings, state=state, clients=clients(settings, retry=RetryPolicy.fast()),
                  log=lambda e: None, should_stop=lambda: False, now=datetime.now(timezone.utc))
    return settings, state, cycle, datetime.now(timezone.utc).timestamp() + 10**6


def test_the_daemon_step_writes_once_when_a_reply_is_lost(org):
    _, state, cycle, later = _transient_world(org)
    try:
        org.sandbox.app.faults.configure(families=["salesforce.collections"],
                                         fail_next=["apply_then_drop"] * 2)
        retry_transient(cycle, clock=lambda: later)
        assert org.sandbox.app.faults.stats["apply_then_drop"] >= 1
        retry_transient(cycle, clock=lambda: later * 2)      # whatever is left, next cycle
    finally:
        org.sandbox.app.faults.configure(fail_next=[], families=None)
        state.close()
    assert {r["status"] for r in rows(org).values()} == {"applied"}
    for i in range(3):
        assert len(org.leads(f"locked{i}@acme.example")) == 1
    assert len(org.members()) == 3


@pytest.mark.parametrize("where", ["record_intents", "record_outcomes", "save_plans"])
def test_the_daemon_step_interrupted_at_each_step_resumes_once(org, monkeypatch, where):
    from connector.adapters.sqlite import parked as parked_rows

    _, state, cycle, later = _transient_world(org)
    try:
        class Boom(Exception):
            pass

        target = parked_rows if where == "save_plans" else state
        original = getattr(target, where)

        def boom(*args: Any, **kwargs: Any) -> Any:
            raise Boom(where)

        monkeypatch.setattr(target, where, boom)
        with pytest.raises(Boom):
            retry_transient(cycle, clock=lambda: later)
        monkeypatch.setattr(target, where, original)
    finally:
        state.close()
    # A restarted daemon (a new state and cycle) finishes the job once.
    state = State.open(org.state_path)
    try:
        state.lock()
        settings = org.settings()
        cycle = Cycle(settings=settings, state=state, clients=clients(settings, retry=RetryPolicy.fast()),
                      log=lambda e: None, should_stop=lambda: False, now=datetime.now(timezone.utc))
        retry_transient(cycle, clock=lambda: later)
    finally:
        state.close()
    if {r["status"] for r in rows(org).values()} != {"applied"}:
        # a row left pending by the interruption is settled by the next run
        assert org.sync().status == "ok"
    assert {r["status"] for r in rows(org).values()} == {"applied"}
    for i in range(3):
        assert len(org.leads(f"locked{i}@acme.example")) == 1
    assert len(org.members()) == 3


def test_an_automatic_retry_parking_again_for_the_same_code_is_not_a_new_kind(org, monkeypatch):
    from connector.commands import parked as flow
    from connector.commands.health import read_health

    org.sf.add_validation_rule("Lead", "NoJunk", RULE, "Junk is not a lead")
    org.fill(0, "junk@acme.example", lastname="Junk")
    assert org.sync().status == "partial"
    first_run = rows(org)["junk@acme.example"]["run_id"]
    org.fill(1, "fine@acme.example", lastname="Fine")
    assert org.sync().status == "ok"                       # a good run since: healthy
    settings = org.settings()
    assert read_health(settings).ok
    monkeypatch.setattr(flow, "is_transient", lambda code: True)   # say this code passes
    state = State.open(org.state_path)
    try:
        state.lock()
        cycle = Cycle(settings=settings, state=state, clients=clients(settings, retry=RetryPolicy.fast()),
                      log=lambda e: None, should_stop=lambda: False, now=datetime.now(timezone.utc))
        report = retry_transient(cycle, clock=lambda: 10.0**12)
    finally:
        state.close()
    assert report is not None and report.status == "partial"
    junk = rows(org)["junk@acme.example"]
    assert junk["status"] == "failed" and junk["attempts"] == 2
    assert junk["run_id"] == first_run                     # still the run that parked it
    assert read_health(settings).ok, read_health(settings).lines()
