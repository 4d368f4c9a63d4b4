"""Progress on long runs: pages per form while pulling, batches while writing, Bulk job
states while waiting; click's bar on a terminal, a line every 10 s elsewhere. Driven with a
fake clock and a non-terminal stream, then through a real backfill against the sandbox."""

from __future__ import annotations

import io
from pathlib import Path

from connector.adapters.transport import RetryPolicy
from connector.commands.backfill import run_backfill
from connector.render.progress import RunProgress
from connector.sandbox import Sandbox
from sync_helpers import EXT, Org


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_lines_every_ten_seconds_through_pull_write_and_bulk_wait():
    clock, out = FakeClock(), io.StringIO()
    shown = RunProgress(stream=out, tty=False, label="backfill", clock=clock, batch_size=10_000)
    for i in range(30):                         # 30 pages, one every 2 s, from two forms
        clock.advance(2)
        shown.page("form-aaaaaaaa-1" if i % 2 else "form-bbbbbbbb-2", 50)
    lines = out.getvalue().splitlines()
    assert len(lines) == 6                       # 60 s of pulling: one line per 10 s
    assert lines[0] == ("backfill: pulling · 2 form(s), 5 page(s), 250 response(s) "
                        "[form-aaa 2 p/100 r, form-bbb 3 p/150 r]")
    assert lines[-1].startswith("backfill: pulling · 2 form(s), 30 page(s), 1,500 response(s)")
    shown.pulled(20_000)
    # a long Bulk wait with no event at all: the heartbeat still speaks every 10 s
    shown.bulk("7500000000001", "Lead", "UploadComplete", 0)
    for _ in range(25):
        clock.advance(1)
        shown.tick()
    shown.bulk("7500000000001", "Lead", "InProgress", 1200)
    clock.advance(10)
    shown.tick()
    clock.advance(1)
    shown(10_000, 20_000)
    clock.advance(10)
    shown(20_000, 20_000)
    shown.close()
    clock.advance(60)
    shown.tick()                                  # closed: silent
    later = out.getvalue().splitlines()[6:]
    assert later == [
        "backfill: writing · batch 0 of 2 written, 0/20,000 response(s); "
        "Bulk job 7500000000001 (Lead) UploadComplete",
        "backfill: writing · batch 0 of 2 written, 0/20,000 response(s); "
        "Bulk job 7500000000001 (Lead) UploadComplete",
        "backfill: writing · batch 0 of 2 written, 0/20,000 response(s); "
        "Bulk job 7500000000001 (Lead) InProgress, 1,200 processed",
        "backfill: writing · batch 2 of 2 written, 20,000/20,000 response(s)",
    ]


def test_a_short_run_prints_nothing():
    clock, out = FakeClock(), io.StringIO()
    with RunProgress(stream=out, tty=False, clock=clock) as shown:
        shown.page("f", 50)
        clock.advance(3)
        shown.pulled(50)
        shown(50, 50)
    assert out.getvalue() == ""


def test_a_terminal_gets_clicks_bar():
    out = Terminal()
    shown = RunProgress(stream=out, tty=True, label="sync", batch_size=100)
    shown.page("form-1", 50)
    shown.page("form-1", 30)
    shown.pulled(180)
    shown(100, 180)
    shown.bulk("750x", "CampaignMember", "InProgress", 40)
    shown(180, 180)
    shown.close()
    text = out.getvalue()
    assert "sync: pulling" in text and "1 form(s), 2 page(s), 80 response(s)" in text
    assert "sync: writing" in text and "100/180" in text and "180/180" in text
    assert "Bulk job 750x (CampaignMember) InProgress, 40 processed" in text
    assert "\r" in text                          # redrawn in place: a bar, not lines


def test_a_real_backfill_reports_pages_batches_and_bulk_states(tmp_path: Path):
    with Sandbox() as sandbox:
        org = Org(sandbox, tmp_path / "leadsync.db")
        org.add_forms(2)
        for i in range(120):
            org.fill(i % 2, f"p{i}@new.example", lastname=f"L{i}", company="Newco")
        clock, out = FakeClock(), io.StringIO()

        def ticking() -> float:               # every look at the clock is 11 s later
            clock.advance(11)
            return clock.now

        settings = org.settings("poi", salesforce={"lead_external_id_field": EXT},
                                hubspot={"base_url": sandbox.url, "access_token": sandbox.token,
                                         "page_size": 20})
        shown = RunProgress(stream=out, tty=False, label="backfill", clock=ticking, batch_size=50)
        result = run_backfill(settings, since="2025-01-01", retry=RetryPolicy.fast(), poll_interval=0,
                              bulk_threshold=0, batch_size=50, watcher=shown)
        shown.close()
    assert result.report.status == "ok", result.report.error
    lines = out.getvalue().splitlines()
    pulling = [line for line in lines if line.startswith("backfill: pulling")]
    assert pulling and pulling[-1].startswith("backfill: pulling · 2 form(s), 6 page(s), 120 response(s)")
    assert any("Bulk job" in line and "(Lead)" in line and "UploadComplete" in line for line in lines)
    assert any("(CampaignMember) JobComplete" in line for line in lines)
    assert lines[-1].startswith("backfill: writing · batch 3 of 3 written, 120/120 response(s)")


def test_a_real_retry_reports_the_pages_read_again_and_its_batches(tmp_path: Path):
    from connector.commands.parked import run_retry

    with Sandbox() as sandbox:
        org = Org(sandbox, tmp_path / "leadsync.db")
        org.add_forms(1)
        org.sf.add_validation_rule("Lead", "NoJunk", 'LastName = "Junk"', "Junk is not a lead")
        for i in range(30):
            org.fill(0, f"j{i}@new.example", lastname="Junk", company="Newco")
        settings = org.settings("hybrid")
        assert org.sync("hybrid").counts["failed"] == 30           # all parked
        org.sf.add_validation_rule("Lead", "NoJunk", 'LastName = "Junk"', "Junk is not a lead",
                                   active=False)
        clock, out = FakeClock(), io.StringIO()

        def ticking() -> float:
            clock.advance(11)
            return clock.now

        shown = RunProgress(stream=out, tty=False, label="retry", clock=ticking, batch_size=1000)
        report = run_retry(settings, watcher=shown)
        shown.close()
    assert report.status == "ok", report.error
    lines = out.getvalue().splitlines()
    assert any(line.startswith("retry: pulling · 1 form(s)") for line in lines), lines
    assert lines[-1].startswith("retry: writing · batch 1 of 1 written, 30/30 response(s)"), lines


def test_the_daemon_logs_progress_as_events_of_its_own_log():
    from connector.commands.daemon import ProgressLog

    logged: list[dict] = []
    clock = FakeClock()
    shown = RunProgress(stream=ProgressLog(logged.append), tty=False, label="daemon", clock=clock,
                        batch_size=1000)
    shown.page("form-a", 100)
    clock.advance(11)
    shown.tick()
    assert [e["event"] for e in logged] == ["progress"]
    assert logged[0]["message"].startswith("daemon: pulling · 1 form(s), 1 page(s), 100 response(s)")
    assert "@" not in logged[0]["message"] and logged[0]["ts"]
