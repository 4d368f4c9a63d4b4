"""Writers beside a running daemon, and the daemon's configuration reload (real processes).

The daemon lets the state's writer lock go between runs and waits for it before the next
(``adapters/sqlite/lock.py``); ``retry`` waits for a daemon's run in progress. These tests
run ``leadsync daemon`` and ``leadsync retry`` as processes against the sandbox served from
this test process, and check that nothing is written twice and no two runs overlap.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from connector.adapters.sqlite.ledger import State
from connector.sandbox import Sandbox
from sync_helpers import Org
from test_daemon import CLI, DaemonProcess, applied_rows

TOKEN = "tok-writers-9d2e-very-secret"
RULE = 'LastName = "Junk"'


@pytest.fixture
def org(tmp_path: Path) -> Iterator[Org]:
    with Sandbox(token=TOKEN) as sandbox:
        o = Org(sandbox, tmp_path / "state" / "leadsync.db")
        o.add_forms(2)
        yield o


def env(org: Org) -> dict[str, str]:
    return org.env({**os.environ, "LEADSYNC_CONFIG": ""})


def runs(org: Org) -> list[dict[str, Any]]:
    state = State.open_read_only(org.state_path)
    try:
        return state.runs(1000)
    finally:
        state.close()


def assert_no_overlap(all_runs: list[dict[str, Any]]) -> None:
    """Every recorded run started after the one before it finished: one writer at a time
    (each run is recorded inside the writer lock, from start_run to finish_run)."""
    spans = sorted((r["started_at"], r["finished_at"]) for r in all_runs)
    assert all(end is not None for _, end in spans), spans
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert end <= start, spans


def test_retry_runs_while_the_daemon_runs_and_nothing_is_duplicated(org, tmp_path):
    config = org.write_config(tmp_path / "c.toml", sync={"batch_size": 2})
    org.sf.add_validation_rule("Lead", "NoJunk", RULE, "Junk is not a lead")
    parked = [f"junk{i}@acme.example" for i in range(4)]
    for i, email in enumerate(parked):
        org.fill(i % 2, email, lastname="Junk")
    daemon = DaemonProcess(org, config, "--interval", "1s", "--log-format", "json")
    try:
        first = daemon.wait_for_run()
        assert first["counts"]["failed"] == 4
        org.sf.add_validation_rule("Lead", "NoJunk", RULE, "Junk is not a lead", active=False)

        # A slow org and a burst, so the daemon is mid-run when retry starts: retry waits.
        org.sandbox.app.faults.configure(latency_ms=30)
        burst = [f"burst{i}@acme.example" for i in range(16)]
        with org.sandbox.app.lock:
            for i, email in enumerate(burst):
                org.fill(i % 2, email, lastname="Burst")
        deadline = time.monotonic() + 20
        while not any(r["status"] == "running" for r in runs(org)):
            assert time.monotonic() < deadline, "the daemon never started on the burst"
            time.sleep(0.02)
        retried = subprocess.run(CLI + ["retry", "--config", str(config)], env=env(org),
                                 capture_output=True, text=True, timeout=60)
        assert retried.returncode == 0, retried.stderr + retried.stdout
        assert "waiting for the state's writer lock" in retried.stderr
        org.sandbox.app.faults.configure(latency_ms=0)

        # More retries and syncs race the daemon's cycles: each waits its turn.
        for _ in range(3):
            org.fill(0, f"late{_}@acme.example", lastname="Late")
            burst.append(f"late{_}@acme.example")
            again = subprocess.run(CLI + ["retry", "--config", str(config)], env=env(org),
                                   capture_output=True, text=True, timeout=60)
            assert again.returncode == 0, again.stderr
        daemon.wait_for_run(lambda e: e["counts"]["pulled"] == 0)
        daemon.proc.send_signal(signal.SIGTERM)
        code, err = daemon.finish()
        assert code == 0, err
        assert TOKEN not in err + "".join(daemon.seen)
    finally:
        daemon.kill()

    rows = applied_rows(org)
    assert {r["email"] for r in rows} == set(parked) | set(burst)
    assert {r["status"] for r in rows} == {"applied"}
    for email in set(parked) | set(burst):
        assert len(org.leads(email)) == 1, email
    assert len(org.members()) == len(parked) + len(burst)
    assert_no_overlap(runs(org))


def test_between_runs_a_second_daemon_is_still_refused_and_status_sees_the_daemon(org, tmp_path):
    config = org.write_config(tmp_path / "c.toml")
    daemon = DaemonProcess(org, config, "--interval", "1h", "--log-format", "json")
    try:
        daemon.wait_for_run()            # now sleeping, the writer lock let go
        second = subprocess.run(CLI + ["daemon", "--config", str(config), "--once"], env=env(org),
                                capture_output=True, text=True, timeout=30)
        assert second.returncode == 1
        assert f"pid {daemon.proc.pid} on {socket.gethostname()}" in second.stderr
        status = subprocess.run(CLI + ["status", "--config", str(config), "--json"], env=env(org),
                                capture_output=True, text=True, timeout=30)
        assert json.loads(status.stdout)["daemon"]["running"] is True
        # a sync between the daemon's runs takes the writer lock and runs at once
        org.fill(0, "between@acme.example", lastname="Between")
        synced = subprocess.run(CLI + ["sync", "--config", str(config)], env=env(org),
                                capture_output=True, text=True, timeout=30)
        assert synced.returncode == 0, synced.stderr
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.finish()[0] == 0
    finally:
        daemon.kill()
    assert len(org.leads("between@acme.example")) == 1
    assert_no_overlap(runs(org))


def _events(daemon: DaemonProcess, kind: str, timeout: float = 20) -> dict[str, Any]:
    return daemon.next_event(kind, timeout)


def test_the_daemon_reloads_a_changed_file_and_keeps_the_old_one_when_invalid(org, tmp_path, receiver):
    url, posted = receiver
    config = tmp_path / "c.toml"
    org.write_config(config)
    good = config.read_text()
    # Start with form 1 left out and no webhook; the fixed configuration adds both.
    only_first = good[:good.rindex("[[campaigns]]")]
    config.write_text(only_first)
    org.fill(0, "ann@acme.example", lastname="Ann")
    org.fill(1, "bob@acme.example", lastname="Bob")
    daemon = DaemonProcess(org, config, "--interval", "1s", "--log-format", "json")
    try:
        first = daemon.wait_for_run()
        assert first["counts"]["pulled"] == 1

        # A changed file is read at the start of the next run.
        config.write_text(good + f'[alerts]\nwebhook = "{url}"\n')
        reload = _events(daemon, "reload")
        assert "file changed" in reload["message"]
        assert daemon.wait_for_run(lambda e: e["counts"]["pulled"] > 0)["counts"]["created_leads"] == 1

        # An invalid file: logged and alerted once; the old configuration keeps running.
        config.write_text(good + f'[alerts]\nwebhook = "{url}"\nstale_after = "soon"\n')
        error = _events(daemon, "error")
        assert "invalid, the old one keeps running" in error["message"]
        assert "alerts.stale_after" in error["message"]
        org.fill(0, "cy@acme.example", lastname="Cy")
        assert daemon.wait_for_run(lambda e: e["counts"]["pulled"] > 0)["status"] == "ok"
        daemon.wait_for_run()
        daemon.wait_for_run()
        invalid = [p for p in posted if p["leadsync"]["event"] == "config_invalid"]
        assert len(invalid) == 1 and "alerts.stale_after" in invalid[0]["text"]
        assert "SECRETPART" not in "".join(daemon.seen)
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.finish()[0] == 0
    finally:
        daemon.kill()
    assert {r["email"] for r in applied_rows(org)} == {"ann@acme.example", "bob@acme.example",
                                                        "cy@acme.example"}


def test_sighup_reloads_at_once_while_the_daemon_sleeps(org, tmp_path):
    config = tmp_path / "c.toml"
    org.write_config(config)
    daemon = DaemonProcess(org, config, "--interval", "1h", "--log-format", "json")
    try:
        daemon.wait_for_run()
        daemon.proc.send_signal(signal.SIGHUP)          # unchanged: said, nothing reloaded
        assert "unchanged" in _events(daemon, "reload")["message"]
        config.write_text(config.read_text().replace('method = "hybrid"', 'method = "unique"'))
        daemon.proc.send_signal(signal.SIGHUP)
        assert "(SIGHUP)" in _events(daemon, "reload")["message"]
        # a [state] path change cannot be taken over by a running daemon: refused, kept
        config.write_text(config.read_text().replace(str(org.state_path), str(tmp_path / "other.db")))
        daemon.proc.send_signal(signal.SIGHUP)
        assert "state.path" in _events(daemon, "error")["message"]
        daemon.proc.send_signal(signal.SIGTERM)
        code, err = daemon.finish()
        assert code == 0, err
    finally:
        daemon.kill()
    assert not (tmp_path / "other.db").exists()


def test_the_writer_lock_is_let_go_between_runs_and_the_daemon_lock_is_not(tmp_path):
    from connector.errors import StateLocked

    path = tmp_path / "s.db"
    daemon, other = State.open(path), State.open(path)
    try:
        daemon.lock_daemon()
        daemon.lock()
        with pytest.raises(StateLocked):
            other.lock()                                   # mid-run: refused at once
        daemon.suspend_lock()                              # between runs
        assert "(daemon)" in (State.lock_holder_at(path) or "")
        assert other.lock() is True                        # a retry runs now
        told: list[str] = []
        with pytest.raises(StateLocked):                   # the daemon waits for it ...
            daemon.lock(wait=0.3, waiting=told.append)
        assert told and f"pid {os.getpid()}" in told[0]
        assert daemon.lock(wait=5, should_stop=lambda: True) is False   # ... or stops waiting
        other.close()
        assert daemon.lock(wait=5) is True                 # and goes on once it is free
        second = State.open(path)
        try:
            with pytest.raises(StateLocked, match="only one daemon"):
                second.lock_daemon()
        finally:
            second.close()
    finally:
        daemon.close()
        other.close()
    assert State.lock_holder_at(path) is None


def test_a_filtered_retry_killed_mid_run_is_resumed_once(org, tmp_path):
    config = org.write_config(tmp_path / "c.toml", sync={"batch_size": 2})
    org.sf.add_validation_rule("Lead", "NoJunk", RULE, "Junk is not a lead")
    junk = [f"junk{i}@acme.example" for i in range(12)]
    for i, email in enumerate(junk):
        org.fill(i % 2, email, lastname="Junk")
    org.fill(0, "not-an-email", lastname="Other")     # another code: not selected
    synced = subprocess.run(CLI + ["sync", "--config", str(config)], env=env(org),
                            capture_output=True, text=True, timeout=60)
    assert synced.returncode == 3, synced.stderr
    org.sf.add_validation_rule("Lead", "NoJunk", RULE, "Junk is not a lead", active=False)
    org.sandbox.app.faults.configure(latency_ms=25)
    args = CLI + ["retry", "--config", str(config), "--code", "FIELD_CUSTOM_VALIDATION_EXCEPTION"]
    child = subprocess.Popen(args, env=env(org), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not any(r["status"] == "applied" for r in applied_rows(org)):
            assert time.monotonic() < deadline and child.poll() is None, "retry never wrote"
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    statuses = {r["email"]: r["status"] for r in applied_rows(org)}
    assert 0 < sum(s == "applied" for s in statuses.values()) < len(junk)   # killed mid-run
    org.sandbox.app.faults.configure(latency_ms=0)
    again = subprocess.run(args, env=env(org), capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    statuses = {r["email"]: r["status"] for r in applied_rows(org)}
    assert {statuses[e] for e in junk} == {"applied"} and statuses["not-an-email"] == "failed"
    for email in junk:
        assert len(org.leads(email)) == 1, email
    assert len(org.members()) == len(junk)


def test_a_new_file_that_loads_but_does_not_build_keeps_the_old_one(org, tmp_path):
    from connector.commands.reload import ConfigWatch
    from connector.config.settings import load_settings
    from connector.errors import ConfigError

    config = org.write_config(tmp_path / "c.toml")
    first = load_settings(config, env=org.env())
    applied: list[Any] = []
    alerts: list[dict[str, Any]] = []
    logged: list[dict[str, Any]] = []

    def apply(settings: Any) -> None:
        if settings.method.value == "unique":
            raise ConfigError("mapping does not fit", key="sync.mapping")
        applied.append(settings)

    watch = ConfigWatch(first, logged.append, apply, alert=alerts.append,
                        load=lambda path: load_settings(path, env=org.env()))
    assert watch.check() is None and not logged                     # unchanged, no SIGHUP
    config.write_text(config.read_text().replace('method = "hybrid"', 'method = "unique"'))
    assert watch.check() is None and watch.settings is first and applied == []
    assert watch.check() is None                                    # the same bad file: once
    assert len(alerts) == 1 and "sync.mapping" in alerts[0]["text"]
    assert [e["event"] for e in logged] == ["error"]
    config.write_text(config.read_text().replace('method = "unique"', 'method = "hybrid"  # fixed'))
    fresh = watch.check()
    assert fresh is not None and applied == [fresh] and watch.settings is fresh
    assert TOKEN not in json.dumps(logged + alerts)
