"""Exactly-once effects under faults, lost replies, budgets, concurrent runs and SIGKILLs."""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connector.errors import StateLocked
from connector.sandbox import Sandbox
from connector.adapters.sqlite.ledger import State
from sync_helpers import EXT, Org

ROOT = Path(__file__).resolve().parent.parent
NO_FAULTS = dict(error_rate=0, rate_limit_rate=0, drop_rate=0, apply_then_drop_rate=0, fail_next=[])


@pytest.fixture
def org(tmp_path):
    with Sandbox(seed=11) as sandbox:
        o = Org(sandbox, tmp_path / "leadsync.db")
        o.add_forms(4)
        yield o


def seed_fills(org: Org, n: int, people: int) -> None:
    for i in range(n):
        org.fill(i % 4, f"p{i % people}@example.com", lastname=f"L{i}", company="Acme")


def assert_exactly_once(org: Org, method: str, n: int, people: int) -> None:
    open_leads = collections.Counter(lead["Email"] for lead in org.leads() if not lead["IsConverted"])
    if method == "poi":
        assert sum(open_leads.values()) == n
    else:
        assert len(open_leads) == people and max(open_leads.values()) == 1
    pairs = collections.Counter((m["CampaignId"], m.get("LeadId") or m.get("ContactId"))
                                for m in org.members())
    assert max(pairs.values()) == 1, "a duplicate CampaignMember"
    expected_members = n if method == "poi" else len({(i % 4, i % people) for i in range(n)})
    assert len(pairs) == expected_members
    rows = State.open(org.state_path).rows()
    assert len(rows) == n and {r["status"] for r in rows} == {"applied"}


@pytest.mark.parametrize("method", ["poi", "hybrid", "unique"])
def test_twenty_percent_faults_all_applied_none_doubled(org, method):
    seed_fills(org, 400, 150)
    org.sandbox.app.faults.configure(error_rate=0.05, rate_limit_rate=0.05, drop_rate=0.05,
                                     apply_then_drop_rate=0.05, retry_after=None)
    ext = {"salesforce": {"lead_external_id_field": EXT}} if method == "poi" else {}
    # small batches: many calls, so many faults (a batch's lookups share one composite call)
    reports = [org.sync(method, sync={"batch_size": 10}, **ext) for _ in range(3)]
    org.sandbox.app.faults.configure(**NO_FAULTS)
    assert org.sandbox.app.faults.stats["total"] > 20
    assert reports[0].status == "ok", reports[0].error
    assert_exactly_once(org, method, 400, 150)


@pytest.mark.parametrize("family,method", [("salesforce.collections", "hybrid"),
                                           ("salesforce", "unique"), ("salesforce", "poi")])
def test_reply_lost_after_the_write_was_applied(org, family, method):
    seed_fills(org, 40, 15)
    # every write's reply is lost once; the writes themselves land
    org.sandbox.app.faults.configure(families=[family], fail_next=["apply_then_drop"] * 3)
    ext = {"salesforce": {"lead_external_id_field": EXT}} if method == "poi" else {}
    report = org.sync(method, **ext)
    assert report.status == "ok", report.error
    assert org.sandbox.app.faults.stats["apply_then_drop"] >= 1
    assert_exactly_once(org, method, 40, 15)


def test_poi_without_external_id_stops_rather_than_guess(org):
    seed_fills(org, 10, 10)
    org.sandbox.app.faults.configure(families=["salesforce.collections"], fail_next=["apply_then_drop"])
    report = org.sync("poi", sync={"poi_delivery": "at_least_once"})   # chosen by name
    assert report.status == "aborted" and "pending" in report.error
    rows = State.open(org.state_path).rows()
    assert {r["status"] for r in rows} == {"pending"}  # none lost: the next run resumes them


def test_budget_share_stops_before_the_next_batch(org):
    seed_fills(org, 450, 450)
    # 77 used + the run's describe of the org (the default mapping places countries in its
    # picklists) + the read of the campaigns' statuses = 79: under the 80% budget for the
    # first batch, past it after.
    org.sf.set_api_limit(100, used=77)
    report = org.sync("unique", sync={"batch_size": 100})
    assert report.status == "budget" and report.exit_code == 4
    applied = State.open(org.state_path).rows("applied")
    assert 0 < len(applied) < 450
    org.sf.set_api_limit(100_000)
    rest = org.sync("unique", sync={"batch_size": 100})
    assert rest.status == "ok"
    assert_exactly_once(org, "unique", 450, 450)


def test_request_limit_exceeded_ends_the_run_with_state_intact(org):
    seed_fills(org, 20, 20)
    org.sf.set_api_limit(10, used=10)
    report = org.sync("hybrid")
    assert report.status == "budget" and report.exit_code == 4
    assert "REQUEST_LIMIT_EXCEEDED" in report.error or "limit" in report.error.lower()
    assert State.open(org.state_path).rows("applied") == []
    org.sf.set_api_limit(100_000)
    assert org.sync("hybrid").status == "ok"
    assert_exactly_once(org, "hybrid", 20, 20)


def test_second_run_at_once_is_refused(org, tmp_path):
    seed_fills(org, 5, 5)
    holder = State.open(org.state_path)
    holder.lock()
    with pytest.raises(StateLocked) as refused:
        org.sync("unique")
    assert f"pid {os.getpid()}" in str(refused.value)
    assert org.leads() == [] and State.open(org.state_path).runs() == []
    holder.close()
    assert org.sync("unique").status == "ok"




@pytest.mark.parametrize("method", ["poi", "hybrid"])
def test_sigkill_at_random_moments_then_rerun(org, tmp_path, method):
    seed_fills(org, 300, 120)
    org.sandbox.app.faults.configure(latency_ms=2)  # stretch the run so kills land mid-batch
    config = org.write_config(tmp_path / "c.toml", method=method,
                              salesforce={"lead_external_id_field": EXT}, sync={"batch_size": 25})
    env = org.env(dict(os.environ))
    rng = random.Random(5)
    command = [sys.executable, "-m", "connector", "sync", "--config", str(config)]
    for _ in range(4):
        proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    final = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stdout + final.stderr
    org.sandbox.app.faults.configure(latency_ms=0)
    assert_exactly_once(org, method, 300, 120)


HOSTILE = [
    ("missing email", {"firstname": "No"}, "failed"),
    ("invalid email", {"email": "bob at acme"}, "failed"),
    ("spaces and case", {"email": "  Mixed.Case@Example.COM  "}, "applied"),
    ("over-long title", {"email": "long@example.com", "jobtitle": "T" * 500}, "applied"),
    ("10 kB value", {"email": "big@example.com", "message": "x" * 10_000, "company": "C" * 10_000}, "applied"),
    ("NUL and control chars", {"email": "nul@example.com", "lastname": "Nu\x00ll\x07", "company": "A\x1bB"},
     "applied"),
    ("emoji and RTL", {"email": "emoji@example.com", "lastname": "🚀 שלום عربى", "company": "مرحبا"}, "applied"),
    ("quotes and SOQL", {"email": "o'brien@example.com", "lastname": "' OR Id != null --",
                         "company": "\\'; DELETE \\ \"x\""}, "applied"),
    ("backslash in email", {"email": "back\\slash@example.com"}, "failed"),
    ("SOQL in email", {"email": "x' OR Email != '@example.com"}, "failed"),
    ("number field junk", {"email": "num@example.com", "numemployees": "lots"}, "applied"),
    # phone free text: the number is left out (never digits scraped into one), the rest applied
    ("phone free text", {"email": "later@example.com", "phone": "call me after 5pm"}, "applied"),
    ("two numbers in one field", {"email": "two@example.com", "phone": "415 555 0100 / 415 555 0101",
                                  "mobilephone": "+1 415 555 0100 +44 20 7946 0958"}, "applied"),
    ("one number and its extension", {"email": "ext@example.com", "phone": "(415) 555-0100 ext. 12"},
     "applied"),
    # bidi and format characters (Unicode Cf): dropped from names and emails; ZWJ kept
    ("RLO and zero-width in names", {"email": "rlo@example.com", "firstname": "\u202eevil\u202c",
                                     "lastname": "Gn\u200bome\ufeff", "company": "\ufeffAcme\u202e"},
     "applied"),
    ("BOM before an email", {"email": "\ufeffbom@example.com"}, "applied"),
    ("zero-width space in an email", {"email": "zw\u200bsp@example.com"}, "applied"),
    ("RLO after an email", {"email": "rlo2@example.com\u202e"}, "applied"),
    # shows as "rlo@example.com" with the override; without it, it is no address at all
    ("RLO-spoofed email", {"email": "\u202emoc.elpmaxe@olr"}, "failed"),
    ("ZWJ emoji in a name", {"email": "zwj@example.com", "lastname": "Fam \U0001F468\u200d\U0001F469\u200d\U0001F467"},
     "applied"),
]
INVISIBLE = ("\u202e", "\u202c", "\u200b", "\ufeff")

# Colliding ids (issue 17, bug 5): one conversionId on two forms. HubSpot documents it as the
# submission's unique id, yet the pair reaches leadsync; each is keyed by (form, id) together
# (connector.core.keys): the first keeps the bare id, the other is "{id}:{form}".
COLLIDING_ID = "c0111de5-0000-4000-8000-000000000005"
COLLIDING = (("first@example.com", "First"), ("second@example.com", "Second"))


def add_colliding(org: Org, which: int) -> None:
    """Add ``COLLIDING[which]`` on form ``which`` with the shared conversionId. The sandbox
    refuses a repeated conversionId (as HubSpot would never mint one), so the second is
    forged past that check, straight into the store."""
    email, lastname = COLLIDING[which]
    org.hs.store.conversions.pop(COLLIDING_ID, None)
    org.clock += 60_000
    org.hs.add_submission(org.forms[which], {"email": email, "lastname": lastname},
                          submitted_at=org.clock, conversion_id=COLLIDING_ID)


def test_hostile_corpus_every_item_accounted_for(org):
    ids = {}
    for i, (name, values, _) in enumerate(HOSTILE):
        ids[name] = org.hs.add_submission(org.forms[i % 4], values, submitted_at=org.clock + i)
    org.clock += len(HOSTILE)
    add_colliding(org, 0)
    add_colliding(org, 1)
    report = org.sync("unique")
    assert report.status == "partial" and report.exit_code == 3, report.error  # the parked ones
    state = State.open(org.state_path)
    for name, _, expected in HOSTILE:
        row = state.ledger(ids[name])
        assert row is not None, name
        assert row["status"] == expected, (name, row["error"])
        if expected == "failed":
            assert row["error"], name
    assert report.counts["failed"] == sum(1 for *_, e in HOSTILE if e == "failed")
    lead = org.leads("o'brien@example.com")[0]
    assert lead["LastName"] == "' OR Id != null --" and lead["Company"] == "\\'; DELETE \\ \"x\""
    assert len(org.leads("long@example.com")[0]["Title"]) == 128
    assert "\x00" not in org.leads("nul@example.com")[0]["LastName"]
    assert org.leads("mixed.case@example.com")
    # phones: one valid number is written as E.164; anything else is left out, never guessed
    assert org.leads("later@example.com")[0]["Phone"] is None
    [two] = org.leads("two@example.com")
    assert two["Phone"] is None and two["MobilePhone"] is None
    assert org.leads("ext@example.com")[0]["Phone"] == "+14155550100 x12"
    # invisible characters: gone from every value written and from the ledger's emails
    [rlo] = org.leads("rlo@example.com")
    assert (rlo["FirstName"], rlo["LastName"], rlo["Company"]) == ("Evil", "Gnome", "Acme")
    for name, email in (("BOM before an email", "bom@example.com"),
                        ("zero-width space in an email", "zwsp@example.com"),
                        ("RLO after an email", "rlo2@example.com")):
        assert state.ledger(ids[name])["email"] == email and len(org.leads(email)) == 1, name
    assert not any(ch in str(value) for lead in org.leads() for value in lead.values() for ch in INVISIBLE)
    assert org.leads("zwj@example.com")[0]["LastName"] == "Fam \U0001F468\u200d\U0001F469\u200d\U0001F467"
    # colliding ids: nothing crashes and the id's one ledger row is applied (what became of
    # the pair: test_colliding_ids_* below)
    assert state.ledger(COLLIDING_ID)["status"] == "applied"


def collide(org: Org, arrival: str) -> list:
    """The colliding pair between two ordinary fills, synced under ``unique`` as they arrive:
    in one batch, in two batches of one run, or in two runs. Returns the run reports."""
    org.fill(2, "before@example.com")
    add_colliding(org, 0)
    reports = []
    if arrival == "two runs":
        reports.append(org.sync("unique"))
    add_colliding(org, 1)
    org.fill(3, "after@example.com")
    reports.append(org.sync("unique", sync={"batch_size": 1 if arrival == "two batches" else 100}))
    return reports


ARRIVALS = ("one batch", "two batches", "two runs")


@pytest.mark.parametrize("arrival", ARRIVALS)
def test_colliding_ids_crash_nothing_and_the_rest_is_applied(org, arrival):
    reports = collide(org, arrival)
    assert [(r.status, r.exit_code) for r in reports] == [("ok", 0)] * len(reports)
    state = State.open(org.state_path)
    assert {r["email"]: r["status"] for r in state.rows()
            if not r["conversion_id"].startswith(COLLIDING_ID)} == {
        "before@example.com": "applied", "after@example.com": "applied"}
    row = state.ledger(COLLIDING_ID)       # one row, applied, and true to one of the pair
    assert row["status"] == "applied"
    assert (row["form_id"], row["email"]) in {(org.forms[i], email) for i, (email, _) in enumerate(COLLIDING)}


@pytest.mark.parametrize("arrival", ARRIVALS)
def test_colliding_ids_every_response_accounted_for(org, arrival):
    reports = collide(org, arrival)
    recorded = {(r["form_id"], r["email"]) for r in State.open(org.state_path).rows()}
    reported = {(r["form_id"], r["email"]) for report in reports for r in report.to_json()["responses"]}
    for i, (email, _) in enumerate(COLLIDING):
        assert (org.forms[i], email) in recorded | reported, email


@pytest.mark.parametrize("arrival", ARRIVALS)
def test_colliding_ids_each_keep_their_ledger_row(org, arrival):
    collide(org, arrival)
    recorded = {(r["form_id"], r["email"]) for r in State.open(org.state_path).rows()}
    assert {(org.forms[i], email) for i, (email, _) in enumerate(COLLIDING)} <= recorded


@pytest.mark.parametrize("arrival", ARRIVALS)
def test_colliding_ids_make_no_second_lead(org, arrival):
    collide(org, arrival)
    per_email = collections.Counter(lead["Email"] for lead in org.leads())
    assert max(per_email.values()) == 1, per_email


def test_validation_rejection_fails_alone(org):
    org.fill(0, "ok@example.com", lastname="Fine")
    org.fill(1, "bad@example.com", lastname="Fine")
    org.sandbox.app.salesforce.load({"duplicate_rules": {"Lead": True}, "records": {
        "Lead": [{"LastName": "Existing", "Company": "X", "Email": "bad@example.com"}],
        **org.campaign_records()}})
    report = org.sync("poi", sync={"poi_delivery": "at_least_once"})  # poi creates a Lead even though one exists: the rule rejects it
    state = State.open(org.state_path)
    rows = {r["email"]: r for r in state.rows()}
    assert rows["bad@example.com"]["status"] == "failed"
    assert rows["bad@example.com"]["error_code"] == "DUPLICATES_DETECTED"
    assert rows["ok@example.com"]["status"] == "applied"
    assert report.exit_code == 3


def test_retry_applies_parked_failures_once_the_cause_is_fixed(org):
    org.fill(0, "ok@example.com")
    org.fill(1, "blocked@example.com")
    org.sandbox.app.salesforce.load({"duplicate_rules": {"Lead": True}, "records": {
        "Lead": [{"LastName": "Existing", "Company": "X", "Email": "blocked@example.com"}],
        **org.campaign_records()}})
    first = org.sync("poi", sync={"poi_delivery": "at_least_once"})
    assert first.counts["failed"] == 1
    # the admin relaxes the duplicate rule, then retries the parked response
    org.sandbox.app.salesforce.load({**org.sandbox.app.salesforce.dump(), "duplicate_rules": {"Lead": False}})
    from connector.engine.wiring import Session
    from connector.adapters.transport import RetryPolicy
    with Session(org.settings("poi", sync={"poi_delivery": "at_least_once"}), retry=RetryPolicy.fast()) as engine:
        report = engine.retry()
    assert report.status == "ok" and report.counts["created_leads"] == 1
    rows = {r["email"]: r for r in State.open(org.state_path).rows()}
    assert rows["blocked@example.com"]["status"] == "applied"
    assert rows["blocked@example.com"]["attempts"] == 2
    assert len(org.leads("blocked@example.com")) == 2 and len(org.leads("ok@example.com")) == 1
    with Session(org.settings("poi", sync={"poi_delivery": "at_least_once"}), retry=RetryPolicy.fast()) as engine:
        assert engine.retry().counts["pulled"] == 0  # nothing parked any more


@pytest.mark.parametrize("credentials", [
    {"consumer_key": "ck", "consumer_secret": "cs-secret-value"},
    {"username": "integration@acme.example", "password": "pw-secret-value", "security_token": "tok"},
])
def test_expired_session_is_renewed_and_the_run_goes_on(org, credentials):
    seed_fills(org, 60, 60)
    settings = org.settings("unique", salesforce=credentials, sync={"batch_size": 20})
    settings = type(settings)(**{**settings.__dict__, "salesforce": type(settings.salesforce)(
        **{**settings.salesforce.__dict__, "access_token": None})})
    from connector.engine.wiring import Session
    from connector.adapters.transport import RetryPolicy
    with Session(settings, retry=RetryPolicy.fast()) as engine:
        rotated = []

        def rotate(done: int, total: int) -> None:
            if not rotated:  # after the first batch the org expires the session
                org.sandbox.app.token = "rotated-session"
                rotated.append(done)

        engine.progress = rotate
        report = engine.run()
    assert rotated and report.status == "ok", report.error
    assert_exactly_once(org, "unique", 60, 60)
    text = repr(report.to_json())
    assert "secret-value" not in text


def test_deleted_campaign_pauses_its_form_until_it_is_mapped_again(org):
    org.fill(0, "one@example.com", lastname="One")
    org.fill(1, "two@example.com", lastname="Two")
    org.sf.delete("Campaign", org.campaigns[1])
    report = org.sync("hybrid")
    rows = {r["email"]: r for r in State.open(org.state_path).rows()}
    assert rows["one@example.com"]["status"] == "applied"
    assert "two@example.com" not in rows          # paused before any write: nothing created
    assert org.leads("two@example.com") == []
    assert report.exit_code == 3 and report.counts["paused_forms"] == 1
    assert f"no campaign {org.campaigns[1]} in this org" in report.paused[0]["message"]
    # the admin maps the form to a live campaign: the next run picks the response up
    org.campaigns[1] = org.sf.insert("Campaign", {"Name": "Replacement", "IsActive": True})
    assert org.sync("hybrid").status == "ok"
    [lead] = org.leads("two@example.com")
    assert [m["CampaignId"] for m in org.members(lead["Id"])] == [org.campaigns[1]]


def test_a_campaign_refusing_members_parks_them_with_the_reason(org):
    org.fill(0, "one@example.com", lastname="One")
    org.fill(1, "two@example.com", lastname="Two")
    org.close_campaign(1)
    report = org.sync("hybrid")
    rows = {r["email"]: r for r in State.open(org.state_path).rows()}
    assert rows["one@example.com"]["status"] == "applied"
    parked = rows["two@example.com"]
    assert parked["status"] == "failed"
    assert parked["error_code"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert parked["lead_id"]  # the Lead exists; only the campaign association is parked
    assert report.exit_code == 3
    # the admin maps the form to a live campaign, then retries: the person is not duplicated
    org.campaigns[1] = org.sf.insert("Campaign", {"Name": "Replacement", "IsActive": True})
    from connector.engine.wiring import Session
    from connector.adapters.transport import RetryPolicy
    with Session(org.settings("hybrid"), retry=RetryPolicy.fast()) as engine:
        assert engine.retry().status == "ok"
    assert len(org.leads("two@example.com")) == 1
    assert [m["CampaignId"] for m in org.members(parked["lead_id"])] == [org.campaigns[1]]


def test_submissions_of_an_unmapped_form_are_not_touched(org):
    unmapped = org.hs.create_form("Newsletter (not mapped)")
    org.hs.add_submission(unmapped, {"email": "news@example.com"}, submitted_at=org.clock + 1)
    org.fill(0, "mapped@example.com")
    report = org.sync("unique")
    assert report.counts["pulled"] == 1
    assert org.leads("news@example.com") == []
    assert [r["email"] for r in State.open(org.state_path).rows()] == ["mapped@example.com"]


def test_a_repeat_fill_fails_with_the_membership_it_counted_on(org):
    org.fill(1, "two@example.com", lastname="Two")
    org.fill(1, "two@example.com")                       # same campaign: shares the membership
    org.fill(1, "two@example.com")
    org.close_campaign(1)
    org.sync("hybrid", sync={"batch_size": 2})           # within a batch and across batches
    rows = State.open(org.state_path).rows()
    assert [r["status"] for r in rows] == ["failed"] * 3
    assert "shares with response" in rows[1]["error"]
    assert rows[2]["error_code"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert "shares" not in rows[2]["error"]              # the next batch tried for itself
    assert len(org.leads("two@example.com")) == 1
