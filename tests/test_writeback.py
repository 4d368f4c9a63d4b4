"""Write-back to HubSpot: the rules, the config, the sandbox's CRM v3 endpoints through
hubspot-api-client, and the push end to end, exactly once across lost replies and kills."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import hubspot
import pytest
from hubspot.crm.contacts import (BatchInputSimplePublicObjectBatchInput, SimplePublicObjectBatchInput)
from hubspot.crm.properties import PropertyCreate

from connector.adapters.sqlite.ledger import State
from connector.adapters.sqlite.writeback import WritebackLedger
from connector.adapters.transport import RetryPolicy
from connector.config.settings import Settings
from connector.config.writeback import parse_writeback
from connector.core.writeback import (DEFAULT_NAMES, RecordFacts, RecordType, Stage, StageStatuses,
                                      WritebackProperties, WritebackRow, changed_properties,
                                      derive_stage, desired_properties)
from connector.engine.wiring import clients
from connector.engine.writeback import Writeback
from connector.errors import AuthError, ConfigError
from connector.sandbox import Sandbox
from sync_helpers import Org

ROOT = Path(__file__).resolve().parent.parent
OPEN = "Open - Not Contacted"
STATUSES = StageStatuses(sales_ready="Sales Ready", nurture=frozenset({OPEN}), recycled=frozenset({"Recycled"}))


# -- the pure rules ------------------------------------------------------------------------

@pytest.mark.parametrize("facts, stage", [
    (RecordFacts(RecordType.LEAD, "Sales Ready"), Stage.SALES_READY),
    (RecordFacts(RecordType.LEAD, " sales ready "), Stage.SALES_READY),
    (RecordFacts(RecordType.LEAD, OPEN), Stage.NURTURE),
    (RecordFacts(RecordType.LEAD, None), Stage.NURTURE),
    (RecordFacts(RecordType.LEAD, "Recycled"), Stage.RECYCLED),
    (RecordFacts(RecordType.LEAD, "Working - Contacted"), Stage.WORKING),
    (RecordFacts(RecordType.LEAD, "Qualified", converted=True), Stage.CUSTOMER),
    (RecordFacts(RecordType.CONTACT), Stage.WORKING),
    (RecordFacts(RecordType.CONTACT, account_has_won_opportunity=True), Stage.CUSTOMER),
])
def test_stage_rule(facts, stage):
    assert derive_stage(facts, STATUSES) is stage


def test_properties_renamed_switched_off_and_diffed():
    row = WritebackRow("Pat@Example.com", "00Q1", RecordType.LEAD, OPEN, "Ade@Corp.com", Stage.NURTURE)
    names = WritebackProperties(owner=None, stage="marketing_stage")
    desired = desired_properties(row, names)
    assert desired == {"leadsync_salesforce_id": "00Q1", "leadsync_salesforce_type": "Lead",
                       "leadsync_lead_status": OPEN, "marketing_stage": "nurture"}   # no score: left alone
    scored = desired_properties(WritebackRow("p@x.io", "00Q1", RecordType.LEAD, None, None, Stage.WORKING, 42.0),
                                WritebackProperties())
    assert scored["leadsync_score"] == "42" and scored["leadsync_owner"] == "" and scored["leadsync_lead_status"] == ""
    assert changed_properties(desired, None) == desired
    assert changed_properties(desired, {**desired, "marketing_stage": "working"}) == {"marketing_stage": "nurture"}
    assert changed_properties(desired, desired) == {}


def test_config_defaults_renames_and_mistakes():
    assert parse_writeback(None) is None
    assert parse_writeback({"enabled": False}) is None
    default = parse_writeback({})
    assert default is not None and default.create_contacts is False
    assert default.properties.named() == DEFAULT_NAMES
    custom = parse_writeback({"create_contacts": True, "recycled_statuses": ["Recycled"],
                              "properties": {"owner": False, "stage": "lifecycle_ls", "score": True}})
    assert custom is not None and custom.create_contacts
    assert custom.properties.owner is None and custom.properties.stage == "lifecycle_ls"
    assert custom.statuses("Sales Ready", OPEN).nurture == frozenset({OPEN})
    for raw, key in [({"properties": {"owner": "Has Space"}}, "writeback.properties.owner"),
                     ({"properties": {"colour": "x"}}, "writeback.properties.colour"),
                     ({"properties": {"owner": "same", "stage": "same"}}, "writeback.properties.stage"),
                     ({"create_contacts": "yes"}, "writeback.create_contacts"),
                     ({"batch_size": 500}, "writeback.batch_size"),
                     ({"recycled_statuses": ["A"], "nurture_statuses": ["A"]}, "writeback.recycled_statuses")]:
        with pytest.raises(ConfigError) as err:
            parse_writeback(raw)
        assert err.value.key == key


# -- end to end against the sandbox ---------------------------------------------------------

@pytest.fixture
def org(tmp_path):
    with Sandbox(seed=3) as sandbox:
        o = Org(sandbox, tmp_path / "leadsync.db")
        o.add_forms(1)
        yield o


def hs_client(org: Org):
    return hubspot.Client.create(access_token=org.sandbox.token, host=org.sandbox.url, base_url=org.sandbox.url)


def create_properties(org: Org, names=tuple(DEFAULT_NAMES.values())) -> None:
    """As an admin would, through the properties API (the stage as a dropdown of the five)."""
    api = hs_client(org).crm.properties.core_api
    for name in names:
        if name == "leadsync_stage":
            options = [{"label": s.value, "value": s.value, "hidden": False} for s in Stage]
            body = PropertyCreate(name=name, label="Stage", type="enumeration", field_type="select",
                                  group_name="leadsync", options=options)
        else:
            body = PropertyCreate(name=name, label=name, type="number" if name == "leadsync_score" else "string",
                                  field_type="number" if name == "leadsync_score" else "text",
                                  group_name="leadsync")
        api.create("contacts", body)


def settings_for(org: Org, **writeback) -> Settings:
    return org.settings("unique", writeback={"nurture_statuses": [OPEN], **writeback})


def writeback_run(org: Org, settings: Settings, *, dry_run: bool = False):
    state = State.open_read_only(org.state_path) if dry_run else State.open(org.state_path)
    try:
        vendors = clients(settings, retry=RetryPolicy.fast())
        w = Writeback(settings, hubspot=vendors.hubspot, salesforce=vendors.salesforce, state=state)
        return w.run(dry_run=dry_run)
    finally:
        state.close()


def push(org: Org, settings: Settings, rows):
    state = State.open(org.state_path)
    try:
        vendors = clients(settings, retry=RetryPolicy.fast())
        return Writeback(settings, hubspot=vendors.hubspot, salesforce=vendors.salesforce, state=state).push(rows)
    finally:
        state.close()


def contact(org: Org, email: str) -> dict[str, str]:
    found = org.hs.crm.contact(email)
    assert found is not None, "no HubSpot contact"
    return found


def fill_and_sync(org: Org, n: int) -> list[str]:
    emails = [f"p{i}@example.com" for i in range(n)]
    for e in emails:
        org.fill(0, e, lastname="L", company="Acme")
    org.sync("unique")
    assert all(org.leads(e) for e in emails)
    return emails


def test_handed_off_people_carry_the_five_properties_and_a_rerun_sends_nothing(org):
    create_properties(org)
    emails = fill_and_sync(org, 3)
    settings = settings_for(org)
    first = writeback_run(org, settings)
    assert (first.counts.sent, first.counts.unchanged, first.counts.missing) == (3, 0, 0)
    assert first.problems == []
    lead = org.leads(emails[0])[0]
    props = contact(org, emails[0])
    assert props["leadsync_salesforce_id"] == lead["Id"]
    assert props["leadsync_salesforce_type"] == "Lead"
    assert props["leadsync_lead_status"] == lead["Status"]
    assert props["leadsync_stage"] == "nurture"
    assert props["leadsync_owner"].endswith("@leadsync.sandbox")
    assert "leadsync_score" not in props
    # 3 people: one properties read, one batch read by email, one batch update.
    assert first.counts.calls == 3 and first.salesforce_calls <= 2
    again = writeback_run(org, settings)
    assert (again.counts.sent, again.counts.unchanged) == (0, 3)
    assert again.counts.calls == 1          # the properties read; no write at all

    # A rep works one Lead: only that contact's status and stage are sent.
    org.sf.update("Lead", lead["Id"], {"Status": "Working - Contacted"})
    org.sandbox.app.counters.clear()
    third = writeback_run(org, settings)
    assert (third.counts.sent, third.counts.unchanged) == (1, 2)
    assert contact(org, emails[0])["leadsync_stage"] == "working"
    assert org.sandbox.app.counters["hubspot.crm.contacts"] == 1


def test_dry_run_sends_and_records_nothing(org):
    create_properties(org)
    emails = fill_and_sync(org, 2)
    report = writeback_run(org, settings_for(org), dry_run=True)
    assert report.dry_run and report.counts.sent == 2 and report.counts.calls == 1   # the properties read
    assert "leadsync_stage" not in contact(org, emails[0])
    assert writeback_run(org, settings_for(org)).counts.sent == 2


def test_converted_lead_becomes_a_customer_contact(org):
    create_properties(org)
    emails = fill_and_sync(org, 1)
    settings = settings_for(org)
    writeback_run(org, settings)
    lead = org.leads(emails[0])[0]
    converted = org.sf.convert_lead(lead["Id"])
    writeback_run(org, settings)
    props = contact(org, emails[0])
    assert props["leadsync_stage"] == "customer" and props["leadsync_salesforce_type"] == "Contact"
    assert props["leadsync_salesforce_id"] == converted["contactId"]


def test_missing_property_is_named_and_switched_off_never_a_halt(org):
    create_properties(org, names=("leadsync_salesforce_id", "leadsync_stage"))
    emails = fill_and_sync(org, 2)
    report = writeback_run(org, settings_for(org, properties={"score": False}))
    missing = sorted(p.property for p in report.problems if p.switched_off)
    assert missing == ["leadsync_lead_status", "leadsync_owner", "leadsync_salesforce_type"]
    assert report.counts.sent == 2
    props = contact(org, emails[1])
    assert props["leadsync_stage"] == "nurture" and "leadsync_owner" not in props


def test_missing_contact_is_counted_and_skipped_unless_create_contacts(org):
    create_properties(org)
    row = WritebackRow("nobody@example.com", "00Q000000000001AAA", RecordType.LEAD, OPEN, None, Stage.NURTURE)
    counts = push(org, settings_for(org), [row])
    assert (counts.missing, counts.sent, counts.created) == (1, 0, 0)
    assert org.hs.crm.contact("nobody@example.com") is None
    counts = push(org, settings_for(org, create_contacts=True), [row])
    assert (counts.created, counts.sent) == (1, 1)
    assert contact(org, "nobody@example.com")["leadsync_stage"] == "nurture"


def test_bad_enumeration_value_is_refused_alone_and_retried_next_push(org):
    create_properties(org)
    api = hs_client(org).crm.properties.core_api
    api.create("contacts", PropertyCreate(name="narrow_stage", label="n", type="enumeration", field_type="select",
                                          group_name="leadsync",
                                          options=[{"label": "nurture", "value": "nurture", "hidden": False}]))
    settings = settings_for(org, create_contacts=True, properties={"stage": "narrow_stage"})
    rows = [WritebackRow(f"s{i}@example.com", f"00Q00000000000{i}AAA", RecordType.LEAD, "Working", None,
                         Stage.WORKING) for i in range(3)]
    counts = push(org, settings, rows)
    assert counts.sent == 3 and counts.failed == 3
    assert any("narrow_stage" in p and "INVALID_OPTION" in p for p in counts.problems)
    props = contact(org, "s0@example.com")
    assert props["leadsync_lead_status"] == "Working" and "narrow_stage" not in props
    again = push(org, settings, rows)
    assert again.failed == 3 and again.sent == 0     # only the refused value is tried again


def test_sandbox_answers_like_hubspot(org):
    """Through the real client: the 400 for unknown properties, 207 for missing ids, the 429."""
    create_properties(org)
    org.hs.add_submission(org.forms[0], {"email": "a@example.com"})
    api = hs_client(org).crm.contacts.batch_api
    api.api_client.configuration.client_side_validation = True   # required reply fields present
    from hubspot.crm.contacts import BatchInputSimplePublicObjectBatchInputUpsert, SimplePublicObjectBatchInputUpsert
    from hubspot.crm.contacts.exceptions import ApiException
    upserted = api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        SimplePublicObjectBatchInputUpsert(id="a@example.com", id_property="email", properties={"leadsync_owner": "o@x.io"}),
        SimplePublicObjectBatchInputUpsert(id="new@example.com", id_property="email", properties={})]))
    assert sorted((r.id, r.new) for r in upserted.results) == [("1001", False), ("1002", True)]
    with pytest.raises(ApiException) as err:
        api.update(BatchInputSimplePublicObjectBatchInput(inputs=[SimplePublicObjectBatchInput(
            id="1001", properties={"leadsync_nope": "x"})]))
    assert err.value.status == 400 and "PROPERTY_DOESNT_EXIST" in err.value.body
    reply = api.update(BatchInputSimplePublicObjectBatchInput(inputs=[
        SimplePublicObjectBatchInput(id="1001", properties={"leadsync_stage": "working"}),
        SimplePublicObjectBatchInput(id="424242", properties={"leadsync_stage": "working"})]))
    assert [r.id for r in reply.results] == ["1001"] and reply.errors[0].context["ids"] == ["424242"]
    org.hs.set_rate_limit(per_10s=1)
    org.hs.limiter.clear()
    api.update(BatchInputSimplePublicObjectBatchInput(inputs=[]))
    with pytest.raises(ApiException) as err:
        api.update(BatchInputSimplePublicObjectBatchInput(inputs=[]))
    assert err.value.status == 429 and "RATE_LIMIT" in err.value.body


# -- exactly once ---------------------------------------------------------------------------

@pytest.mark.parametrize("create", [True, False])
def test_lost_replies_make_no_duplicate_and_no_resend(org, create):
    create_properties(org)
    settings = settings_for(org, create_contacts=create)
    rows = [WritebackRow(f"d{i}@example.com", f"00Q0000000000{i:02d}AAA", RecordType.LEAD, OPEN, None,
                         Stage.NURTURE) for i in range(30)]
    if not create:
        for r in rows:
            org.hs.add_submission(org.forms[0], {"email": r.email})
    before = org.hs.crm.contact_count()
    org.sandbox.app.faults.configure(families=["hubspot.crm.contacts"], fail_next=["apply_then_drop"] * 2)
    counts = push(org, settings, rows)
    assert org.sandbox.app.faults.stats["apply_then_drop"] == 2
    assert counts.sent == 30
    assert org.hs.crm.contact_count() == before + (30 if create else 0), "a duplicate contact"
    org.sandbox.app.counters.clear()
    again = push(org, settings, rows)
    assert (again.sent, again.unchanged) == (0, 30)
    assert org.sandbox.app.counters["hubspot.crm.contacts"] == 0
    assert all(contact(org, r.email)["leadsync_stage"] == "nurture" for r in rows)


def test_a_crash_after_hubspot_applied_then_rerun(org, monkeypatch):
    """An exception between HubSpot's reply and the state's record (the kill that matters)."""
    create_properties(org)
    settings = settings_for(org, create_contacts=True, batch_size=10)
    rows = [WritebackRow(f"k{i}@example.com", f"00Q0000000000{i:02d}AAA", RecordType.LEAD, OPEN, None,
                         Stage.NURTURE) for i in range(30)]
    real = WritebackLedger.record
    calls = {"n": 0}

    def dying(self, confirmed):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")
        real(self, confirmed)

    monkeypatch.setattr(WritebackLedger, "record", dying)
    with pytest.raises(KeyboardInterrupt):
        push(org, settings, rows)
    monkeypatch.setattr(WritebackLedger, "record", real)
    org.sandbox.app.counters.clear()
    counts = push(org, settings, rows)
    # batch 2 again (HubSpot already had it: not new), batch 3 for the first time (new)
    assert (counts.sent, counts.unchanged, counts.created) == (20, 10, 10)
    assert org.hs.crm.contact_count() == 30
    assert push(org, settings, rows).sent == 0


def test_sigkill_mid_writeback_then_rerun(org, tmp_path):
    create_properties(org)
    for i in range(400):
        org.fill(0, f"q{i}@example.com", lastname="L", company="Acme")
    org.sync("unique")
    config = org.write_config(tmp_path / "c.toml", method="unique")
    config.write_text(config.read_text() + '\n[writeback]\ncreate_contacts = true\nbatch_size = 20\n'
                      f'nurture_statuses = ["{OPEN}"]\n')
    org.sandbox.app.faults.configure(latency_ms=15)
    env = org.env(dict(os.environ))
    command = [sys.executable, "-m", "connector", "writeback", "--config", str(config), "--json"]
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while org.sandbox.app.counters["hubspot.crm.contacts"] < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    org.sandbox.app.faults.configure(latency_ms=0)
    state = State.open(org.state_path)
    recorded = WritebackLedger(state).count()
    state.close()
    assert 0 < recorded < 400, "the kill should land mid-push"
    final = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    assert org.hs.crm.contact_count() == 400
    rerun = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert '"sent": 0' in rerun.stdout and '"unchanged": 400' in rerun.stdout


# -- mappings check and the daemon's step ----------------------------------------------------

def test_mappings_check_names_the_missing_property(org):
    from connector.commands.mappings_check import check

    create_properties(org, names=("leadsync_salesforce_id", "leadsync_salesforce_type", "leadsync_lead_status",
                                  "leadsync_stage"))
    report = check(settings_for(org, properties={"score": False}))
    found = [p for p in report.routing if p.where.startswith("writeback.")]
    assert [(p.where, p.level) for p in found] == [("writeback.properties.owner -> HubSpot leadsync_owner", "error")]
    assert not report.ok


def test_daemon_cycle_runs_the_writeback_step_only_when_configured(org):
    from datetime import datetime, timezone

    from connector.commands.cycle import Cycle, run_steps, steps_for

    create_properties(org)
    emails = fill_and_sync(org, 2)
    # (every daemon also retries transient parked responses: the parked_retry step)
    assert [name for name, _ in steps_for(org.settings("unique"))] == ["parked_retry"]
    settings = settings_for(org)
    steps = [(name, step) for name, step in steps_for(settings) if name == "writeback"]
    assert [name for name, _ in steps_for(settings)] == ["parked_retry", "writeback"]
    logged: list[dict] = []
    state = State.open(org.state_path)
    try:
        cycle = Cycle(settings, state, clients(settings, retry=RetryPolicy.fast()), logged.append,
                      lambda: False, datetime.now(timezone.utc))
        run_steps(steps, cycle)
    finally:
        state.close()
    assert [e["event"] for e in logged] == ["writeback"] and logged[0]["sent"] == 2
    assert contact(org, emails[1])["leadsync_stage"] == "nurture"


def test_writer_with_an_oauth_app_uses_and_renews_its_access_token(sandbox):
    """auth = "refresh_token": each call carries the current token; a 401 renews it once."""
    from connector.adapters.hubspot.contacts import ContactWriter
    from connector.adapters.hubspot.forms import HubSpotClient
    from connector.config.settings import settings_from_dict

    sandbox.app.load({"hubspot": {"oauth": {"client_id": "hs-client", "client_secret": "hs-secret-value",
                                            "refresh_token": "hs-rt-secret", "expires_in": 1800}}})
    sandbox.app.hubspot.crm.create_property("leadsync_stage")
    env = {"LEADSYNC_HUBSPOT_CLIENT_SECRET": "hs-secret-value", "LEADSYNC_HUBSPOT_REFRESH_TOKEN": "hs-rt-secret",
           "LEADSYNC_SALESFORCE_ACCESS_TOKEN": "x"}
    settings = settings_from_dict({"salesforce": {"instance_url": sandbox.url},
                                   "hubspot": {"base_url": sandbox.url, "auth": "refresh_token",
                                               "client_id": "hs-client"},
                                   "campaigns": [{"form_id": "f", "campaign_id": "c"}]}, env=env)
    hub = HubSpotClient(settings.hubspot, retry=RetryPolicy.fast())
    writer = ContactWriter(hub)
    assert "leadsync_stage" in writer.properties()
    assert hub.tokens is not None and hub.tokens.refreshes == 1
    sandbox.app.token = "hs-rotated"                          # HubSpot ends the token early
    try:
        result = writer.upsert([("t@example.com", {"leadsync_stage": "nurture"})])
    finally:
        sandbox.app.token = "00Dsandbox!TOKEN"
    assert hub.tokens.refreshes == 2 and result.created == {"t@example.com"}


def test_sandbox_dump_keeps_written_values_and_custom_properties(sandbox):
    crm = sandbox.app.hubspot.crm
    crm.create_property("leadsync_stage")
    client = hubspot.Client.create(access_token=sandbox.token, host=sandbox.url, base_url=sandbox.url)
    from hubspot.crm.contacts import BatchInputSimplePublicObjectBatchInputUpsert, SimplePublicObjectBatchInputUpsert
    client.crm.contacts.batch_api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        SimplePublicObjectBatchInputUpsert(id="u@example.com", id_property="email",
                                           properties={"leadsync_stage": "recycled"})]))
    dump = sandbox.app.hubspot.dump()
    sandbox.app.hubspot.reset()
    assert crm.contact("u@example.com") is None
    sandbox.app.hubspot.load(dump)
    assert crm.contact("u@example.com")["leadsync_stage"] == "recycled"
    assert "leadsync_stage" in {p.name for p in client.crm.properties.core_api.get_all("contacts").results}


def test_scores_push_alone_and_leave_the_other_properties(org):
    create_properties(org)
    emails = fill_and_sync(org, 1)
    settings = settings_for(org)
    counts = push(org, settings, [WritebackRow.score_only(emails[0], 73.5)])
    assert counts.sent == 1
    assert contact(org, emails[0])["leadsync_score"] == "73.5"
    assert "leadsync_stage" not in contact(org, emails[0])
    assert writeback_run(org, settings).counts.sent == 1        # the handed-off properties
    props = contact(org, emails[0])
    assert props["leadsync_score"] == "73.5" and props["leadsync_stage"] == "nurture"
    assert push(org, settings, [WritebackRow.score_only(emails[0], 73.5)]).sent == 0


def test_a_pull_only_app_is_told_the_contacts_scopes_not_a_hundred_names(org):
    """An app made for the pull alone (``forms``) cannot read the contact properties
    ``mappings check`` holds [writeback] against; HubSpot's 403 lists the properties routes'
    100 alternative scopes, and the check names the plain contacts ones and counts the rest,
    as one problem among the others (the check itself goes on). The write-back, whose first
    call is a contacts read, names that call's one scope."""
    from connector.commands.mappings_check import check

    create_properties(org)
    emails = fill_and_sync(org, 1)
    org.sandbox.app.hubspot.grant_only("forms")
    report = check(settings_for(org))
    found = [p for p in report.routing if p.where.startswith("writeback.")]
    assert [(p.where, p.level) for p in found] == [("writeback.properties", "error")]
    assert ("lacks the scope crm.objects.contacts.read or crm.objects.contacts.write or "
            "crm.schemas.contacts.read (or one of 97 other scopes HubSpot lists)") in found[0].message
    assert "crm.objects.deals.read" not in found[0].message and not report.ok
    with pytest.raises(AuthError) as err:
        writeback_run(org, settings_for(org))
    assert err.value.code == "MISSING_SCOPES" and "crm.objects.contacts.read (" in str(err.value)
    assert emails[0] not in str(err.value) and "leadsync_stage" not in contact(org, emails[0])
    org.sandbox.app.hubspot.grant_only("forms", "crm.objects.contacts.read",
                                       "crm.objects.contacts.write")
    assert not [p for p in check(settings_for(org)).routing if p.where.startswith("writeback.")]
    assert writeback_run(org, settings_for(org)).counts.sent == 1


def test_an_app_without_the_contacts_write_scope_is_told_which_scope_to_add(org):
    """HubSpot answers the batch write 403 MISSING_SCOPES (its spec gives contact writes
    crm.objects.contacts.write): the write-back stops naming that scope, not "refused the
    access token" (the token is good), records nothing as sent, and once the scope is
    granted the next push sends everyone."""
    create_properties(org)
    emails = fill_and_sync(org, 2)
    org.sandbox.app.hubspot.revoke_scopes("crm.objects.contacts.write")
    with pytest.raises(AuthError) as err:
        writeback_run(org, settings_for(org))
    assert err.value.code == "MISSING_SCOPES"
    assert "crm.objects.contacts.write" in str(err.value)
    assert "refused the access token" not in str(err.value)
    assert not any(e in str(err.value) for e in emails)
    assert "leadsync_stage" not in contact(org, emails[0])
    org.sandbox.app.hubspot.grant_all_scopes()
    assert writeback_run(org, settings_for(org)).counts.sent == 2
