"""``leadsync backfill`` end to end: Bulk API 2.0 through the real simple-salesforce client,
against the sandbox, compared with what ``sync`` makes of the very same world."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import connector.adapters.salesforce.bulk as bulk
from connector.commands.backfill import run_backfill
from connector.render.backfill import render_bulk
from connector.cli import main
from connector.engine.wiring import Session
from connector.sandbox import Sandbox
from connector.adapters.sqlite.ledger import State
from connector.adapters.transport import RetryPolicy
from connector.errors import TransientError
from sync_helpers import EXT, Org

FORMS = 4          # the last form's campaign refuses members: they fail and are parked
TIME_FIELD = re.compile(r"(Date|Modstamp)$")


def build_world() -> tuple[dict[str, Any], list[str], list[str]]:
    """A history: new people (some filling several forms), an open Lead, a Contact, a person
    who is both, a Contact already 'Sent' on a campaign, junk, and a deleted campaign."""
    with Sandbox() as sandbox:
        org = Org(sandbox, Path("unused.db"))
        org.add_forms(FORMS)
        sf = org.sf
        sf.insert("Lead", {"LastName": "Known", "Company": "K", "Email": "lead@k.example"})
        contact = sf.insert("Contact", {"LastName": "Contact", "Email": "contact@k.example"})
        sf.insert("Contact", {"LastName": "Both", "Email": "both@k.example"})
        sf.insert("Lead", {"LastName": "Both", "Company": "K", "Email": "both@k.example"})
        sf.insert("CampaignMember", {"CampaignId": org.campaigns[1], "ContactId": contact,
                                     "Status": "Sent"})
        for i in range(48):
            org.fill(i % FORMS, f"p{i % 20}@new.example", firstname=f"P{i}", lastname=f"L{i % 20}",
                     company="Newco", jobtitle="Buyer" if i % 3 else "")
        for email in ("lead@k.example", "contact@k.example", "both@k.example", "not-an-email"):
            org.fill(1, email, lastname="X", company="Y")
        org.close_campaign(FORMS - 1)     # refuses new members (a deleted one would pause)
        return sandbox.app.dump(), list(org.forms), list(org.campaigns)


@pytest.fixture(scope="module")
def world() -> tuple[dict[str, Any], list[str], list[str]]:
    return build_world()


@pytest.fixture
def make_org(world, tmp_path):
    """A fresh sandbox holding a copy of the world, with its own state file."""
    sandboxes: list[Sandbox] = []

    def make(name: str) -> Org:
        data, forms, campaigns = world
        sandbox = Sandbox(data=data).start()
        sandboxes.append(sandbox)
        return Org(sandbox, tmp_path / name / "leadsync.db", forms=list(forms),
                   campaigns=list(campaigns))

    yield make
    for sandbox in sandboxes:
        sandbox.stop()


def backfill(org: Org, method: str, *, ext: bool = True, **kwargs: Any):
    settings = org.settings(method, salesforce={"lead_external_id_field": EXT} if ext else {})
    kwargs.setdefault("bulk_threshold", 0)
    return run_backfill(settings, since=kwargs.pop("since", "2025-01-01"), retry=RetryPolicy.fast(),
                        poll_interval=0, **kwargs)


def sync(org: Org, method: str, *, ext: bool = True):
    settings = org.settings(method, salesforce={"lead_external_id_field": EXT} if ext else {})
    with Session(settings, retry=RetryPolicy.fast()) as engine:
        return engine.run()


def org_view(org: Org) -> dict[str, list[dict[str, Any]]]:
    """The org's people and memberships, without the clock's fields."""
    return {obj: sorted(({k: v for k, v in r.items() if not TIME_FIELD.search(k)}
                         for r in org.sf.records(obj)), key=lambda r: r["Id"])
            for obj in ("Lead", "Contact", "CampaignMember")}


def ledger_view(org: Org) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    state = State.open(org.state_path)
    try:
        rows = [{k: v for k, v in r.items() if k not in ("run_id", "first_seen_at", "updated_at")}
                for r in state.rows()]
        marks = [{"form_id": r["form_id"], "submitted_at": r["submitted_at"]}
                 for r in state.db.query("SELECT * FROM watermarks ORDER BY form_id")]
        return sorted(rows, key=lambda r: r["conversion_id"]), marks
    finally:
        state.close()


@pytest.mark.parametrize("method", ["poi", "hybrid", "unique"])
def test_backfill_through_bulk_lands_exactly_what_sync_lands(make_org, method):
    synced, backfilled = make_org("sync"), make_org("backfill")
    by_sync = sync(synced, method)
    result = backfill(backfilled, method)

    assert result.writer is not None and result.writer.stats.jobs == 2  # Leads, then members
    assert result.report.counts == by_sync.counts
    assert result.report.status == by_sync.status == "partial"
    assert org_view(backfilled) == org_view(synced)
    assert ledger_view(backfilled) == ledger_view(synced)

    parked = State.open(backfilled.state_path)
    try:
        failed = parked.rows("failed")
    finally:
        parked.close()
    # (a deleted record is gone from a dataset copy, so Salesforce's word is "invalid id")
    assert {r["error_code"] for r in failed} == {"INVALID_EMAIL", "FIELD_CUSTOM_VALIDATION_EXCEPTION"}
    deleted = [r for r in failed if r["error_code"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"]
    assert all(r["campaign_id"] == backfilled.campaigns[-1] for r in deleted)
    # all 12 fills are parked: under hybrid and unique a person's repeat fills share the one
    # membership that failed, and fail with it (5 people, 12 fills)
    assert len(deleted) == 12 and all("This campaign takes no new members." in r["error"] for r in deleted)


def test_without_the_external_id_leads_take_collections_and_members_bulk(make_org):
    synced, backfilled = make_org("sync"), make_org("backfill")
    sync(synced, "hybrid", ext=False)
    result = backfill(backfilled, "hybrid", ext=False)

    assert result.writer is not None and result.writer.stats.jobs == 1
    assert not result.writer.leads_in_bulk
    assert any("lead_external_id_field" in note for note in result.notes)
    assert org_view(backfilled) == org_view(synced)
    assert ledger_view(backfilled) == ledger_view(synced)


def test_calls_are_counted_and_a_rerun_is_a_no_op(make_org):
    org = make_org("calls")
    org.sandbox.counters.clear()
    first = backfill(org, "unique")

    counters = org.sandbox.counters
    # Leads: create, upload, close, 2 polls, successes (none failed); members: the same
    # and the failed results (the deleted campaign's).
    assert counters["salesforce.bulk"] == 6 + 7
    assert first.report.sf_calls == counters["salesforce"]
    assert first.report.api_used == org.sf.api_usage[0]
    before = org_view(org)

    counters.clear()
    again = backfill(org, "unique")
    assert again.report.status == "ok" and again.report.counts["pulled"] == 0
    assert again.report.counts["skipped"] == first.report.counts["pulled"]
    assert again.writer is not None and again.writer.stats.jobs == 0
    assert counters["salesforce"] == counters["salesforce.composite"] == 1   # campaigns' statuses
    assert org_view(org) == before


def test_below_the_threshold_writes_take_collections(make_org):
    org = make_org("small")
    org.sandbox.counters.clear()
    result = backfill(org, "unique", bulk_threshold=1_000)
    assert result.writer is not None and result.writer.stats.jobs == 0
    assert org.sandbox.counters["salesforce.bulk"] == 0
    assert result.report.counts["created_leads"] > 0


def test_since_bounds_the_history_and_never_moves_a_watermark_back(make_org):
    org = make_org("since")
    subs = sorted((s for per_form in org.hs.dump()["submissions"].values() for s in per_form),
                  key=lambda s: s["submittedAt"])
    middle = subs[len(subs) // 2]["submittedAt"]
    since = datetime.fromtimestamp(middle / 1000, timezone.utc).isoformat()

    result = backfill(org, "unique", since=since)
    pulled = result.report.counts["pulled"]
    assert pulled == sum(1 for s in subs if s["submittedAt"] >= middle)
    _, marks = ledger_view(org)

    early = backfill(org, "unique", since="2025-01-01")
    assert early.report.counts["pulled"] == len(subs) - pulled  # only what the first skipped
    _, after = ledger_view(org)
    assert [m["submitted_at"] for m in after] >= [m["submitted_at"] for m in marks]
    assert {m["form_id"]: m["submitted_at"] for m in after}.items() >= {
        m["form_id"]: m["submitted_at"] for m in marks}.items()


def test_an_interrupted_job_is_settled_and_its_batch_resolved_again(make_org, monkeypatch):
    clean, hit = make_org("clean"), make_org("interrupted")
    backfill(clean, "hybrid")
    real_step = bulk.BulkWriter._step
    polls = []

    def lossy(self, name, fn, *, idempotent):
        reply = real_step(self, name, fn, idempotent=idempotent)
        if name == "poll":
            polls.append(reply["state"])
            if len(polls) == 1:   # the job is processing: the reply is lost past every retry
                raise TransientError("Salesforce Bulk poll: ConnectionError")
        return reply

    monkeypatch.setattr(bulk.BulkWriter, "_step", lossy)
    result = backfill(hit, "hybrid")

    assert result.report.counts["replanned_batches"] == 1
    jobs = list(hit.sandbox.app.salesforce.bulk.jobs.values())
    assert jobs[0].state == "Aborted" and jobs[0].processed > 0   # settled, then resolved again
    assert org_view(hit)["Lead"] == org_view(clean)["Lead"]       # no Lead twice
    assert org_view(hit)["CampaignMember"] == org_view(clean)["CampaignMember"]
    rows, _ = ledger_view(hit)
    assert {r["status"] for r in rows} == {"applied", "failed"}


def test_a_job_past_its_timeout_leaves_the_batch_pending_for_the_next_run(make_org):
    clean, slow = make_org("clean"), make_org("slow")
    backfill(clean, "poi")
    slow.sandbox.app.salesforce.bulk.polls_to_complete = 10**6   # never finishes by itself

    stuck = backfill(slow, "poi", timeout=0)
    assert stuck.report.status == "aborted" and "BULK_TIMEOUT" in (stuck.report.error or "")
    rows, _ = ledger_view(slow)
    assert len(rows) == 51 and {r["status"] for r in rows} == {"pending"}  # (junk is not written)
    assert list(slow.sandbox.app.salesforce.bulk.jobs.values())[0].state == "Aborted"

    slow.sandbox.app.salesforce.bulk.polls_to_complete = 2
    resumed = backfill(slow, "poi")
    assert resumed.report.status == "partial"
    assert org_view(slow) == org_view(clean)          # each Lead once, found by its external id

    def outcome(rows):
        return [{k: v for k, v in r.items() if k not in ("reason", "attempts")} for r in rows]
    rows, marks = ledger_view(slow)
    clean_rows, clean_marks = ledger_view(clean)
    assert outcome(rows) == outcome(clean_rows) and marks == clean_marks
    recovered = [r for r in rows if "interrupted run" in (r["reason"] or "")]
    assert len(recovered) == sum(r["action"] == "create_lead" for r in rows) == 51


def test_dry_run_writes_nothing(make_org):
    org = make_org("dry")
    before = org_view(org)
    result = backfill(org, "unique", dry_run=True)
    assert result.report.dry_run and result.writer is None
    assert result.report.counts["created_leads"] > 0
    assert org_view(org) == before and not org.state_path.exists()


def test_cli_backfill_json(make_org, tmp_path):
    org = make_org("cli")
    config = org.write_config(tmp_path / "c.toml", method="unique",
                              salesforce={"lead_external_id_field": EXT})
    result = CliRunner().invoke(main, ["backfill", "--config", str(config), "--since", "2025-01-01",
                                       "--bulk-threshold", "0", "--json"], env=org.env())
    assert result.exit_code == 3, result.output      # the deleted campaign's responses are parked
    report = json.loads(result.output)
    assert report["bulk"]["jobs"] == 2 and report["since"].startswith("2025-01-01")
    assert report["bulk"]["job_ids"] == list(org.sandbox.app.salesforce.bulk.jobs)
    assert report["bulk_plan"] is None
    assert report["counts"]["failed"] >= 1 and org.sandbox.token not in result.output

    missing = CliRunner().invoke(main, ["backfill", "--config", str(config)], env=org.env())
    assert missing.exit_code == 2 and "--since" in missing.output


def people_view(org: Org) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Leads and memberships by what they say, not by Id (creation order makes Ids differ)."""
    leads = sorted(tuple(sorted((k, str(v)) for k, v in r.items()
                                if k != "Id" and not k.endswith("Id") and not TIME_FIELD.search(k)))
                   for r in org.sf.records("Lead"))
    who = {r["Id"]: r.get("Email") for obj in ("Lead", "Contact") for r in org.sf.records(obj)}
    members = sorted((m["CampaignId"], who.get(m.get("LeadId") or m.get("ContactId")), m["Status"])
                     for m in org.sf.records("CampaignMember"))
    return leads, members


def test_bulk_job_ids_are_reported_and_the_jobs_stay_in_the_org(make_org):
    org = make_org("ids")
    result = backfill(org, "unique")

    jobs = org.sandbox.app.salesforce.bulk.jobs
    ids = result.writer.stats.job_ids
    assert len(ids) == 2 and ids == list(jobs)        # Leads, then members; none deleted
    assert [jobs[i].object for i in ids] == ["Lead", "CampaignMember"]
    assert {j.state for j in jobs.values()} == {"JobComplete"}
    assert result.to_json()["bulk"]["job_ids"] == ids
    text = render_bulk(result)
    assert f"Bulk jobs (Setup > Bulk Data Load Jobs): {ids[0]}, {ids[1]}" in text


def test_a_backfill_keeps_a_line_per_response_only_when_asked(make_org):
    quiet, detailed = make_org("quiet"), make_org("detailed")
    plain = backfill(quiet, "unique")
    full = backfill(detailed, "unique", keep_details=True)
    assert plain.report.responses == []            # memory follows the batch, not the history
    assert plain.report.counts["pulled"] > 0
    assert len(full.report.responses) == full.report.counts["pulled"] == plain.report.counts["pulled"]


def test_records_a_failed_job_never_processed_are_parked_never_applied(make_org):
    clean, hit = make_org("clean"), make_org("failed")
    backfill(clean, "unique")
    bulk = hit.sandbox.app.salesforce.bulk
    bulk.batch_rows, bulk.fail_after_batches = 10, 1  # each job stops after 10 rows

    result = backfill(hit, "unique")
    assert result.report.status == "partial"
    assert {j.state for j in bulk.jobs.values()} == {"Failed"}
    rows, _ = ledger_view(hit)
    unprocessed = [r for r in rows if r["error_code"] == "BULK_UNPROCESSED"]
    assert unprocessed and {r["status"] for r in unprocessed} == {"failed"}
    assert all("ended Failed" in r["error"] for r in unprocessed)
    leads = {r[EXT]: r["Id"] for r in hit.sf.records("Lead") if r.get(EXT)}
    members = {(m["CampaignId"], m.get("LeadId") or m.get("ContactId"))
               for m in hit.sf.records("CampaignMember")}
    applied = [r for r in rows if r["status"] == "applied"]
    for row in applied:                               # everything recorded applied is there
        if row["action"] == "create_lead":
            assert leads[row["conversion_id"]] == row["lead_id"]
        if row["lead_id"] or row["contact_id"]:       # (a repeat fill sharing a membership
            # created in the same batch carries no record id in the ledger)
            assert (row["campaign_id"], row["lead_id"] or row["contact_id"]) in members
    assert any(r["lead_id"] or r["contact_id"] for r in applied)  # the checks above ran
    never = [r for r in unprocessed if r["action"] == "create_lead" and not r["lead_id"]]
    assert never and all(r["conversion_id"] not in leads for r in never)

    bulk.fail_after_batches = None                    # the cause is gone: retry the parked
    with Session(hit.settings("unique", salesforce={"lead_external_id_field": EXT}),
                 retry=RetryPolicy.fast()) as engine:
        engine.retry()
    assert people_view(hit) == people_view(clean)     # each Lead and membership once
    rows, _ = ledger_view(hit)
    assert not [r for r in rows if r["error_code"] == "BULK_UNPROCESSED"]


def bulk_writes(org: Org) -> list[tuple[str, int]]:
    """(object, rows) of each Bulk job the org received, in order."""
    return [(j.object, len(j.rows)) for j in org.sandbox.app.salesforce.bulk.jobs.values()]


def test_dry_run_says_which_writes_would_go_through_bulk_and_writes_nothing(make_org):
    real, dry = make_org("real"), make_org("dry")
    backfill(real, "unique")
    (_, leads), (_, members) = bulk_writes(real)
    before = org_view(dry)
    dry.sandbox.counters.clear()

    result = backfill(dry, "unique", dry_run=True)

    assert result.writer is None and dry.sandbox.counters["salesforce.bulk"] == 0
    assert not dry.sandbox.app.salesforce.bulk.jobs and org_view(dry) == before
    assert not dry.state_path.exists()
    plan = result.to_json()["bulk_plan"]
    assert plan["total"] == {"leads": {"bulk": leads, "collections": 0, "jobs": 1},
                             "members": {"bulk": members, "collections": 0, "jobs": 1}}
    summary = (f"would write {leads} Leads through Bulk API 2.0 (1 job) and {members} members "
               "through Bulk API 2.0 (1 job)")
    assert plan["summary"] == summary and f"Dry run: {summary}" in render_bulk(result)
    assert result.to_json()["bulk"] is None


def test_dry_run_plans_each_batch_as_the_real_run_writes_it(make_org):
    real, dry = make_org("real"), make_org("dry")
    backfill(real, "unique", batch_size=20, bulk_threshold=6)
    result = backfill(dry, "unique", batch_size=20, bulk_threshold=6, dry_run=True)

    plan = result.plan
    pulled = result.report.counts["pulled"]
    assert [b.responses for b in plan.batches] == [20] * (pulled // 20) + [pulled % 20]
    planned = [(obj, w.records) for b in plan.batches
               for obj, w in (("Lead", b.leads), ("CampaignMember", b.members)) if w.via == "bulk"]
    assert planned == bulk_writes(real)               # the same jobs, batch by batch
    assert any(w.via == "collections" for b in plan.batches for w in (b.leads, b.members))
    text = render_bulk(result)
    assert "    batch 1 (20 responses): would write" in text


def test_dry_run_without_the_external_id_plans_leads_through_collections(make_org):
    org = make_org("dry-noext")
    result = backfill(org, "hybrid", ext=False, dry_run=True)
    total = result.plan.totals()
    assert total["leads"]["bulk"] == 0 and total["leads"]["collections"] > 0
    assert total["members"]["bulk"] > 0
    assert any("lead_external_id_field" in note for note in result.notes)


def test_cli_backfill_dry_run_prints_the_plan_and_keeps_the_json_keys(make_org, tmp_path):
    org = make_org("cli-dry")
    config = org.write_config(tmp_path / "c.toml", method="unique",
                              salesforce={"lead_external_id_field": EXT})
    args = ["backfill", "--config", str(config), "--since", "2025-01-01", "--bulk-threshold", "0",
            "--dry-run"]
    out = CliRunner().invoke(main, args + ["--json"], env=org.env())
    report = json.loads(out.output)
    assert {"run_id", "method", "dry_run", "status", "counts", "since", "bulk", "notes",
            "responses", "bulk_plan"} <= set(report)
    assert report["dry_run"] is True and report["bulk"] is None
    assert report["bulk_plan"]["summary"].startswith("would write ")
    assert report["bulk_plan"]["total"]["leads"]["jobs"] == 1

    text = CliRunner().invoke(main, args, env=org.env())
    assert "Dry run: would write " in text.output and "through Bulk API 2.0 (1 job)" in text.output
    assert not org.sandbox.app.salesforce.bulk.jobs
