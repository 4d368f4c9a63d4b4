"""The daemon: its schedule (pure), its loop (fakes), and the real process against the sandbox.

The process tests run ``leadsync daemon`` as a subprocess talking to a sandbox served from
this test process over loopback, and signal it as systemd or Kubernetes would.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.render.daemon_log import format_event
from connector.commands.daemon import (Daemon, Schedule, StopFlag, next_delay, parse_interval,
                              run_event)
from connector.engine.report import RunReport
from connector.errors import ConfigError
from connector.core.model import Method
from connector.sandbox import Sandbox
from connector.adapters.sqlite.ledger import State
from sync_helpers import Org

TOKEN = "tok-daemon-3c1f-very-secret"


# -- the schedule ------------------------------------------------------------------------------

@pytest.mark.parametrize("failures,expected", [(0, 60), (1, 120), (2, 240), (5, 1920), (6, 3600), (40, 3600)])
def test_backoff_doubles_to_a_cap(failures, expected):
    assert next_delay(Schedule(60, max_backoff=3600, jitter=0), failures, 0.5) == expected


def test_jitter_stays_within_its_share():
    schedule = Schedule(100, jitter=0.1)
    assert next_delay(schedule, 0, 0.0) == pytest.approx(90)
    assert next_delay(schedule, 0, 0.999999) == pytest.approx(110, abs=0.01)
    assert next_delay(schedule, 0, 0.5) == pytest.approx(100)


def test_cap_is_never_below_the_interval():
    assert next_delay(Schedule(7200, max_backoff=3600, jitter=0), 3, 0.5) == 7200


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("5m", 300), ("1h", 3600), ("45", 45)])
def test_interval_parsing(text, seconds):
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["0s", "soon", "-5m", "5 minutes"])
def test_bad_intervals_name_the_option(text):
    with pytest.raises(ConfigError, match="--interval"):
        parse_interval(text)


# -- the loop, with fakes ----------------------------------------------------------------------

def report(status: str, n: int = 0) -> RunReport:
    r = RunReport(f"run-{n}", Method.HYBRID, False, status=status)
    r.counts.update({"pulled": n})
    return r


def test_backs_off_after_failures_and_resumes_on_its_own():
    statuses = iter(["ok", "aborted", "budget", "aborted", "ok", "partial", "ok"])
    stop = StopFlag()
    waits: list[float] = []
    events: list[dict[str, Any]] = []

    def run() -> RunReport:
        status = next(statuses)
        if status == "ok" and len(waits) == 6:
            stop.request("SIGTERM")
        return report(status)

    def sleep(seconds: float, flag: StopFlag) -> None:
        waits.append(seconds)

    code = Daemon(run, Schedule(10, max_backoff=60, jitter=0), events.append, stop, sleep,
                  rand=lambda: 0.5).serve()
    assert code == 0
    assert waits == [10, 20, 40, 60, 10, 10]
    assert [e["consecutive_failures"] for e in events] == [0, 1, 2, 3, 0, 0, 0]
    assert events[-1]["next_run_in"] is None


def test_a_crashing_run_is_logged_by_type_and_retried():
    calls = Counter()
    stop = StopFlag()
    events: list[dict[str, Any]] = []

    def run() -> RunReport:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError(f"https://x/?token={TOKEN}")
        stop.request("SIGINT")
        return report("ok")

    code = Daemon(run, Schedule(1, jitter=0), events.append, stop, lambda s, f: None).serve()
    assert code == 0 and calls["n"] == 2
    assert "RuntimeError" in events[0]["message"] and TOKEN not in json.dumps(events)
    assert events[1]["event"] == "backoff" and events[1]["next_run_in"] == 2


def test_once_exits_with_the_runs_code():
    for status, code in (("ok", 0), ("partial", 3), ("budget", 4), ("aborted", 1)):
        assert Daemon(lambda: report(status), Schedule(1), lambda e: None).serve(once=True) == code


def test_log_lines_human_and_json():
    r = report("ok", 3)
    r.sf_calls, r.hs_calls, r.api_used, r.api_limit = 5, 2, 120, 15000
    event = run_event(r, failures=0, next_in=300, now=datetime(2026, 1, 2, tzinfo=timezone.utc))
    line = format_event(event, "human")
    assert line.startswith("2026-01-02T00:00:00+00:00 run-3 ok")
    assert "pulled 3" in line and "sf 5 hs 2" in line and "120/15000" in line and "next in 5m" in line
    parsed = json.loads(format_event(event, "json"))
    assert parsed["run_id"] == "run-3" and parsed["counts"]["pulled"] == 3 and parsed["salesforce_calls"] == 5


# -- the real process against the sandbox ------------------------------------------------------

@pytest.fixture
def org(tmp_path):
    with Sandbox(token=TOKEN) as sandbox:
        o = Org(sandbox, tmp_path / "state" / "leadsync.db")
        o.add_forms(2)
        yield o






CLI = [sys.executable, "-c", "from connector.cli import main; main()"]


class DaemonProcess:
    """A ``leadsync daemon`` subprocess whose JSON log lines arrive on a queue."""

    def __init__(self, org: Org, config: Path, *args: str) -> None:
        self.proc = subprocess.Popen(CLI + ["daemon", "--config", str(config), *args],
                                     env=org.env({**os.environ, "LEADSYNC_CONFIG": ""}), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def next_event(self, kind: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            self.seen.append(line)
            event = json.loads(line)
            if event["event"] == kind:
                return event

    def wait_for_run(self, predicate: Any = lambda e: True, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            event = self.next_event("run", max(0.01, deadline - time.monotonic()))
            if predicate(event):
                return event

    def finish(self, timeout: float = 20) -> tuple[int, str]:
        self.proc.wait(timeout=timeout)
        self.pump.join(timeout=timeout)
        assert self.proc.stderr is not None
        err = self.proc.stderr.read()
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return self.proc.returncode, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def applied_rows(org: Org) -> list[dict[str, Any]]:
    state = State.open_read_only(org.state_path)
    try:
        return state.rows()
    finally:
        state.db.conn.close()


def test_cycles_refuses_a_second_daemon_and_stops_cleanly_mid_run(org, tmp_path):
    config = org.write_config(tmp_path / "c.toml", sync={"batch_size": 2})
    emails = [f"p{i}@acme.example" for i in range(3)]
    for i, email in enumerate(emails):
        org.fill(i % 2, email, lastname=f"P{i}")
    daemon = DaemonProcess(org, config, "--interval", "1s", "--log-format", "json")
    try:
        started = daemon.next_event("start")
        assert started["pid"] == daemon.proc.pid
        first = daemon.wait_for_run()
        assert first["status"] == "ok" and first["counts"]["pulled"] == 3

        # Later cycles pick up what arrives while the daemon runs.
        for cycle in range(2):
            email = f"later{cycle}@acme.example"
            emails.append(email)
            org.fill(cycle % 2, email, lastname="Later")
            event = daemon.wait_for_run(lambda e: e["counts"]["pulled"] > 0)
            assert event["status"] == "ok" and event["counts"]["created_leads"] == 1

        # One daemon per state file: the second is refused, naming the first by pid and host.
        second = subprocess.run(CLI + ["daemon", "--config", str(config), "--interval", "1s"],
                                env=org.env({**os.environ, "LEADSYNC_CONFIG": ""}), capture_output=True, text=True, timeout=20)
        assert second.returncode == 1
        assert f"pid {daemon.proc.pid} on {socket.gethostname()}" in second.stderr

        # SIGTERM mid-run: a slow org, small batches, and the signal once the first batch landed.
        org.sandbox.app.faults.configure(latency_ms=40)
        burst = [f"burst{i}@acme.example" for i in range(24)]
        emails += burst
        with org.sandbox.app.lock:  # all at once: no run may see half of the burst
            for i, email in enumerate(burst):
                org.fill(i % 2, email, lastname="Burst")
        deadline = time.monotonic() + 20
        while not any(r["email"] in burst for r in applied_rows(org)):
            assert time.monotonic() < deadline, "the daemon never started on the burst"
            time.sleep(0.02)
        daemon.proc.send_signal(signal.SIGTERM)
        code, err = daemon.finish()
        assert code == 0, err
        events = [json.loads(line) for line in daemon.seen]
        last_run = [e for e in events if e["event"] == "run"][-1]
        assert last_run["status"] == "stopped", daemon.seen[-4:]
        assert 0 < last_run["counts"]["pulled"] < len(burst) * 2  # stopped before the end
        assert events[-1]["event"] == "stop" and events[-1]["reason"] == "SIGTERM"
        assert TOKEN not in "".join(daemon.seen) + err
    finally:
        daemon.kill()

    # Nothing lost: what the daemon recorded is applied and in Salesforce; nothing is pending.
    rows = applied_rows(org)
    assert rows and {r["status"] for r in rows} == {"applied"}
    recorded = {r["email"] for r in rows}
    assert set(emails) - set(burst) <= recorded and recorded & set(burst)
    assert len(recorded & set(burst)) < len(burst)
    for row in rows:
        assert org.sf.get("Lead", row["lead_id"]) is not None
        assert org.sf.get("CampaignMember", row["member_id"]) is not None

    # The next daemon (the lock is free) finishes the rest, once each.
    org.sandbox.app.faults.configure(latency_ms=0)
    once = subprocess.run(CLI + ["daemon", "--config", str(config), "--once"], env=org.env({**os.environ, "LEADSYNC_CONFIG": ""}),
                          capture_output=True, text=True, timeout=30)
    assert once.returncode == 0, once.stderr
    rows = applied_rows(org)
    assert {r["email"] for r in rows} == set(emails) and {r["status"] for r in rows} == {"applied"}
    for email in emails:
        assert len(org.leads(email)) == 1
    assert len(org.members()) == len(emails)


def test_a_killed_daemons_lock_is_taken_over_at_once(org, tmp_path):
    config = org.write_config(tmp_path / "c.toml", sync={"batch_size": 2})
    org.fill(0, "first@acme.example", lastname="First")
    daemon = DaemonProcess(org, config, "--interval", "1h", "--log-format", "json")
    try:
        daemon.wait_for_run()
        daemon.proc.send_signal(signal.SIGKILL)
        daemon.proc.wait(timeout=10)
    finally:
        daemon.kill()
    org.fill(1, "second@acme.example", lastname="Second")
    result = CliRunner().invoke(main, ["daemon", "--config", str(config), "--once"], env=org.env({**os.environ, "LEADSYNC_CONFIG": ""}))
    assert result.exit_code == 0, result.output
    assert " ok · pulled 1, created 1" in result.output  # the human log line
    assert TOKEN not in result.output
    assert {r["email"] for r in applied_rows(org)} == {"first@acme.example", "second@acme.example"}


def test_once_exit_code_is_the_runs(org, tmp_path):
    config = org.write_config(tmp_path / "c.toml", sync={"batch_size": 2})
    org.fill(0, "not an email", lastname="Junk")
    result = CliRunner().invoke(main, ["daemon", "--config", str(config), "--once", "--log-format", "json"],
                                env=org.env({**os.environ, "LEADSYNC_CONFIG": ""}))
    assert result.exit_code == 3
    runs = [json.loads(line) for line in result.output.splitlines() if '"event": "run"' in line]
    assert runs[0]["status"] == "partial" and runs[0]["counts"]["failed"] == 1


def test_bad_interval_is_a_usage_error(org, tmp_path):
    config = org.write_config(tmp_path / "c.toml", sync={"batch_size": 2})
    result = CliRunner().invoke(main, ["daemon", "--config", str(config), "--interval", "often"], env=org.env({**os.environ, "LEADSYNC_CONFIG": ""}))
    assert result.exit_code == 2 and "--interval" in result.output
