"""``leadsync status``: the summary (pure), and the command against a state a real sync wrote."""

from __future__ import annotations

import json
import re
import os
import socket

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.sandbox import Sandbox
from connector.adapters.sqlite.ledger import State
from connector.commands.status import summarize
from connector.render.status_html import chart_svg
from sync_helpers import Org

TOKEN = "tok-status-9d2e-very-secret"


def test_summary_from_plain_rows():
    runs = [{"id": "run-2", "started_at": "2026-01-02T00:00:00.000+00:00",
             "finished_at": "2026-01-02T00:00:02.500+00:00", "status": "partial", "method": "hybrid",
             "pulled": 4, "created_leads": 1, "attached": 2, "failed": 1, "sf_calls": 6, "hs_calls": 2,
             "api_used": None, "api_limit": None},
            {"id": "run-1", "started_at": "2026-01-01T00:00:00.000+00:00",
             "finished_at": "2026-01-01T00:00:01.000+00:00", "status": "ok", "method": "hybrid",
             "pulled": 1, "created_leads": 1, "sf_calls": 3, "hs_calls": 1, "api_used": 900, "api_limit": 1000}]
    s = summarize(runs=runs, watermarks={"f1": 1_767_225_600_000}, daily=[
        {"day": "2026-01-01", "outcome": "created_lead", "n": 2}, {"day": "2026-01-01", "outcome": "failed", "n": 1}],
        parked=[{"error_code": "INVALID_EMAIL", "n": 1, "example": "no usable email"}],
        lock_holder=None, campaigns=[("f1", "c1"), ("f2", "c2")], budget_share=0.8, state_path="s.db")
    assert s["last_run"]["run_id"] == "run-2" and s["last_run"]["seconds"] == 2.5
    assert s["last_run"]["counts"]["attached"] == 2 and s["last_run"]["salesforce_calls"] == 6
    assert s["last_good_run_at"] == runs[0]["finished_at"]
    assert s["salesforce_api"] == {"used": 900, "limit": 1000, "share": 0.9, "budget_share": 0.8,
                                   "over_budget": True, "seen_at": runs[1]["finished_at"], "run_id": "run-1"}
    assert s["watermarks"][0]["watermark"] == "2026-01-01T00:00:00+00:00"
    assert s["watermarks"][1]["watermark"] is None
    assert s["parked"] == {"total": 1, "by_reason": [{"error_code": "INVALID_EMAIL", "count": 1,
                                                      "example": "no usable email"}]}
    assert s["ledger"]["created_lead"] == 2 and s["ledger"]["failed"] == 1
    assert s["daemon"] == {"running": False, "lock_holder": None}


def test_chart_is_inline_svg_with_a_bar_per_outcome_and_escapes():
    zero = {"created_lead": 0, "attached": 0, "already_member": 0, "failed": 0, "pending": 0}
    svg = chart_svg([{"day": "2026-01-01", "counts": {**zero, "created_lead": 3, "failed": 1}},
                     {"day": "2026-01-02", "counts": zero},
                     {"day": "2026-01-03", "counts": {**zero, "attached": 2}}])
    assert svg.startswith("<svg") and svg.count("<rect") == 3
    assert svg.count('class="day"') == 3 and 'data-day="2026-01-02" data-total="0"' in svg
    assert "2026-01-01: 1 parked (of 4)" in svg
    assert "no responses in these days" in chart_svg([{"day": "2026-01-01", "counts": zero}])


@pytest.fixture
def org(tmp_path):
    with Sandbox(token=TOKEN) as sandbox:
        o = Org(sandbox, tmp_path / "leadsync.db")
        o.add_forms(2)
        yield o






def test_status_after_real_runs_text_json_and_html(org, tmp_path):
    config = org.write_config(tmp_path / "c.toml", salesforce={"budget_share": 0.5})
    runner = CliRunner()
    assert "never synced" in runner.invoke(main, ["status", "--config", str(config)], env=org.env()).output

    org.fill(0, "ann@acme.example", lastname="A")
    org.fill(1, "ann@acme.example", lastname="A")
    assert runner.invoke(main, ["sync", "--config", str(config)], env=org.env()).exit_code == 0
    org.fill(0, "not-an-email", lastname="Junk")
    assert runner.invoke(main, ["sync", "--config", str(config)], env=org.env()).exit_code == 3

    result = runner.invoke(main, ["status", "--config", str(config), "--json"], env=org.env())
    assert result.exit_code == 0, result.output
    s = json.loads(result.output)
    assert [r["status"] for r in s["runs"]] == ["partial", "ok"]
    assert s["runs"][1]["counts"]["created_leads"] == 1 and s["runs"][1]["counts"]["attached"] == 1
    assert s["runs"][1]["salesforce_calls"] > 0 and s["runs"][1]["hubspot_calls"] > 0
    assert s["ledger"] == {"created_lead": 1, "attached": 1, "status_moved": 0, "already_member": 0,
                           "failed": 1, "pending": 0}
    assert [w["form_id"] for w in s["watermarks"]] == org.forms
    assert all(w["watermark_ms"] for w in s["watermarks"])
    assert s["parked"]["total"] == 1 and s["parked"]["by_reason"][0]["count"] == 1
    usage = s["salesforce_api"]
    assert usage["limit"] > 0 and usage["budget_share"] == 0.5
    assert s["daemon"]["running"] is False
    assert TOKEN not in result.output

    # A process holding the lock (as a daemon does) is named.
    holder = State.open(org.state_path)
    holder.lock()
    try:
        html = tmp_path / "report.html"
        result = runner.invoke(main, ["status", "--config", str(config), "--html", str(html)], env=org.env())
        assert result.exit_code == 0, result.output
        assert f"daemon: running (pid {os.getpid()} on {socket.gethostname()}" in result.output
        assert "parked failures: 1" in result.output and "ok" in result.output
        page = html.read_text()
        assert "<svg" in page and "<rect" in page and "parked" in page
        assert "<script" not in page and "src=" not in page
        # links go to the org's records and HubSpot's form pages only
        assert {h.split("/")[2] for h in re.findall(r'href="([^"]+)"', page)} <= {
            org.sandbox.url.split("/")[2], "app.hubspot.com"}
        assert TOKEN not in page
    finally:
        holder.close()


def test_status_needs_no_token(org, tmp_path):
    config = org.write_config(tmp_path / "c.toml")          # tokens live in env, not the file
    org.fill(0, "ann@acme.example", lastname="A")
    assert CliRunner().invoke(main, ["sync", "--config", str(config)], env=org.env()).exit_code == 0
    no_secrets = {"LEADSYNC_SALESFORCE_ACCESS_TOKEN": None, "LEADSYNC_HUBSPOT_ACCESS_TOKEN": None,
                  "LEADSYNC_SALESFORCE_PASSWORD": None, "LEADSYNC_SALESFORCE_SECURITY_TOKEN": None,
                  "LEADSYNC_SALESFORCE_CONSUMER_SECRET": None, "LEADSYNC_CONFIG": None}
    refused = CliRunner().invoke(main, ["sync", "--config", str(config)], env=no_secrets)
    assert refused.exit_code == 2 and "salesforce.access_token" in refused.output
    result = CliRunner().invoke(main, ["status", "--config", str(config), "--json"], env=no_secrets)
    assert result.exit_code == 0, result.output
    s = json.loads(result.output)
    assert s["ledger"]["created_lead"] == 1 and s["runs"][0]["status"] == "ok"


def test_status_counts_the_answers_the_mapping_left_out(org, tmp_path):
    """A phone with no digits is written without: status names the field and how many, in
    text, JSON and HTML, never the answer; a state from before the column reads as none."""
    config = org.write_config(tmp_path / "c.toml")
    org.fill(0, "ann@acme.example", lastname="A", phone="call me")
    org.fill(0, "bo@acme.example", lastname="B", phone="ask reception")
    org.fill(1, "cy@acme.example", lastname="C", phone="+1 415 555 0100")
    runner = CliRunner()
    assert runner.invoke(main, ["sync", "--config", str(config)], env=org.env()).exit_code == 0
    result = runner.invoke(main, ["status", "--config", str(config), "--json"], env=org.env())
    s = json.loads(result.output)
    assert s["left_out"]["days"] == 7
    assert s["left_out"]["by_field"] == [{"field": "Lead.Phone", "responses": 2}]
    text = runner.invoke(main, ["status", "--config", str(config)], env=org.env()).output
    assert "answers the mapping left out, last 7 days" in text and "Lead.Phone 2" in text
    html = tmp_path / "s.html"
    assert runner.invoke(main, ["status", "--config", str(config), "--html", str(html)],
                         env=org.env()).exit_code == 0
    page = html.read_text()
    assert "Answers left out (last 7 days)" in page and "<code>Lead.Phone</code>" in page
    for shown in (result.output, text, page):
        assert "call me" not in shown and "ask reception" not in shown

    # older than the window: not counted; a state without the column: nothing to count
    state = State.open(org.state_path)
    state.db.execute("UPDATE ledger SET first_seen_at = '2020-01-01T00:00:00.000+00:00'")
    state.db.conn.commit()
    state.close()
    s = json.loads(runner.invoke(main, ["status", "--config", str(config), "--json"],
                                 env=org.env()).output)
    assert s["left_out"]["by_field"] == []
    import sqlite_utils
    from connector.adapters.sqlite.status_reads import left_out_counts
    old = sqlite_utils.Database(memory=True)
    old["ledger"].insert({"conversion_id": "c", "first_seen_at": "2030-01-01", "status": "applied"})
    assert left_out_counts(old, "2000-01-01") == []
