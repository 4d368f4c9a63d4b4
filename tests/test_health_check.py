"""Issue 21 item 1: the health rules and ``leadsync status --check`` against a real state file."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.adapters.sqlite.ledger import State
from connector.cli import main
from connector.commands.health import CHECK_EXIT_CODE, evaluate
from connector.config.alerts import AlertSettings
from connector.config.settings import settings_from_dict
from connector.errors import ConfigError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def _run(run_id: str, status: str, minutes_ago: float, error: str | None = None) -> dict[str, object]:
    at = (NOW - timedelta(minutes=minutes_ago)).isoformat()
    return {"id": run_id, "started_at": at, "finished_at": at, "status": status, "error": error}


def test_a_recent_good_run_is_ok():
    h = evaluate(runs=[_run("r2", "ok", 2), _run("r1", "partial", 7)], parked_codes=[("r1", "X")],
                 now=NOW, stale_after=900)
    assert h.ok and h.lines() == ["ok"] and h.last_run_id == "r2"


def test_stale_aborted_budget_and_new_parked_each_give_a_line():
    stale = evaluate(runs=[_run("r1", "ok", 20)], parked_codes=[], now=NOW, stale_after=900)
    assert [r.code for r in stale.reasons] == ["stale"]
    assert "20m ago" in stale.reasons[0].message and "stale after 15m" in stale.reasons[0].message

    aborted = evaluate(runs=[_run("r2", "aborted", 1, "HubSpot answered 503"), _run("r1", "ok", 3)],
                       parked_codes=[], now=NOW, stale_after=900)
    assert aborted.lines() == [f"aborted: last run r2 aborted at {_run('r2', 'x', 1)['finished_at']}: "
                               "HubSpot answered 503"]

    budget = evaluate(runs=[_run("r2", "budget", 1), _run("r1", "ok", 30)], parked_codes=[],
                      now=NOW, stale_after=900)
    assert [r.code for r in budget.reasons] == ["stale", "budget"]

    parked = evaluate(runs=[_run("r2", "partial", 1), _run("r1", "partial", 6)],
                      parked_codes=[("r1", "INVALID_EMAIL"), ("r2", "INVALID_EMAIL"),
                                    ("r2", "FIELD_CUSTOM_VALIDATION_EXCEPTION")],
                      now=NOW, stale_after=900)
    assert parked.lines() == ["new_parked: last run r2 parked responses for new error codes: "
                              "FIELD_CUSTOM_VALIDATION_EXCEPTION"]


def test_no_good_run_is_stale_unless_the_watcher_just_started():
    assert [r.code for r in evaluate(runs=[], parked_codes=[], now=NOW, stale_after=900).reasons] == ["stale"]
    young = evaluate(runs=[], parked_codes=[], now=NOW, stale_after=900, since=NOW - timedelta(minutes=1))
    assert young.ok
    # A run still in progress is not the "last run": the one before it is judged.
    running = evaluate(runs=[{"id": "r3", "status": "running", "started_at": NOW.isoformat()},
                             _run("r2", "aborted", 4)], parked_codes=[], now=NOW, stale_after=900,
                       since=NOW - timedelta(minutes=1))
    assert [r.code for r in running.reasons] == ["aborted"]


def test_stale_after_defaults_and_config():
    assert AlertSettings().stale_seconds() == 900
    assert AlertSettings().stale_seconds(daemon_interval=60) == 180
    assert AlertSettings(interval=600).stale_seconds(daemon_interval=60) == 1800
    assert AlertSettings(stale_after=120, interval=600).stale_seconds() == 120
    base = {"salesforce": {"instance_url": "https://a.my.salesforce.com"},
            "campaigns": [{"form_id": "f", "campaign_id": "c"}]}
    s = settings_from_dict({**base, "alerts": {"stale_after": "1h", "webhook": "https://hooks.example/T/1"}},
                           env={}, require_secrets=False)
    assert s.alerts.stale_seconds() == 3600 and "hooks.example" not in repr(s)
    with pytest.raises(ConfigError, match="alerts.stale_afer"):
        settings_from_dict({**base, "alerts": {"stale_afer": "1h"}}, env={}, require_secrets=False)
    with pytest.raises(ConfigError, match="alerts.webhook") as bad:
        settings_from_dict({**base, "alerts": {"webhook": "not a url secret-part"}}, env={},
                           require_secrets=False)
    assert "secret-part" not in str(bad.value)


# -- the command, on a state file ------------------------------------------------------------

def _config(tmp_path: Path, alerts: str = "") -> Path:
    config = tmp_path / "c.toml"
    config.write_text('[salesforce]\ninstance_url = "https://acme.my.salesforce.com"\n'
                      '[state]\npath = "s.db"\n[[campaigns]]\nform_id = "f"\ncampaign_id = "c"\n' + alerts)
    return config


def _record(path: Path, run_id: str, status: str, minutes_ago: float, parked: tuple[str, ...] = (),
            error: str | None = None) -> None:
    state = State.open(path)
    try:
        state.start_run(run_id, "hybrid", False)
        state.finish_run(run_id, status, {}, error)
        at = (datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)).isoformat(timespec="milliseconds")
        state.db.execute("UPDATE runs SET started_at = ?, finished_at = ? WHERE id = ?", [at, at, run_id])
        for n, code in enumerate(parked):
            state.db.table("ledger").insert({"conversion_id": f"{run_id}-{n}", "form_id": "f",
                                             "submitted_at": 1, "status": "failed", "action": "failed",
                                             "error_code": code, "run_id": run_id})
    finally:
        state.close()


def _check(config: Path) -> tuple[int, list[str]]:
    out = CliRunner().invoke(main, ["status", "--check", "--config", str(config)])
    return out.exit_code, out.output.splitlines()


def test_status_check_exit_codes_follow_the_state(tmp_path):
    config = _config(tmp_path)
    db = tmp_path / "s.db"
    code, lines = _check(config)
    assert code == CHECK_EXIT_CODE == 3 and lines[0].startswith("stale: no good run recorded")

    _record(db, "run-0", "ok", 3)
    assert _check(config) == (0, ["ok"])
    _record(db, "run-1", "partial", 2, parked=("INVALID_EMAIL",))
    assert _check(config)[1] == ["new_parked: last run run-1 parked responses for new error codes: "
                                 "INVALID_EMAIL"]    # the first of its kind is new

    _record(db, "run-1b", "partial", 1.5, parked=("INVALID_EMAIL",))
    assert _check(config) == (0, ["ok"])     # the same kind again: known, waits for retry
    _record(db, "run-2", "partial", 1, parked=("INVALID_EMAIL", "DUPLICATES_DETECTED"))
    code, lines = _check(config)
    assert code == 3 and lines == ["new_parked: last run run-2 parked responses for new error codes: "
                                   "DUPLICATES_DETECTED"]

    _record(db, "run-3", "aborted", 0.5, error="Salesforce answered 500")
    code, lines = _check(config)
    assert code == 3 and len(lines) == 1 and lines[0].startswith("aborted: last run run-3 aborted")

    _record(db, "run-4", "ok", 0.2)
    assert _check(config) == (0, ["ok"])

    # Stale: the same state, read with a shorter stale_after.
    assert _check(_config(tmp_path, '[alerts]\nstale_after = "5s"\n'))[0] == 3
    code, lines = _check(_config(tmp_path, '[alerts]\ninterval = "2s"\n'))
    assert code == 3 and "stale after 6s" in lines[0]


def test_status_check_on_a_budget_stop(tmp_path):
    config = _config(tmp_path)
    _record(tmp_path / "s.db", "run-1", "ok", 3)
    _record(tmp_path / "s.db", "run-2", "budget", 1)
    code, lines = _check(config)
    assert code == 3 and lines == [l for l in lines if l.startswith("budget: last run run-2 stopped at")]
