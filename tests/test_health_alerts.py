"""Issue 21 items 2-3: the webhook posts once per incident (to a real local HTTP receiver),
and ``daemon --http`` serves /healthz and /metrics from the state."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from connector.adapters.sqlite.ledger import State
from connector.commands.alerts import Alerter
from connector.commands.daemon import Daemon, Schedule, StopFlag
from connector.commands.health import parse_http, start_http
from connector.config.alerts import WebhookUrl
from connector.config.settings import settings_from_dict
from connector.core.model import Method
from connector.engine.report import RunReport
from connector.errors import ConfigError


def _report(run_id: str, status: str, error: str | None = None) -> RunReport:
    return RunReport(run_id=run_id, method=Method.HYBRID, dry_run=False, status=status, error=error)


def test_one_post_per_incident_through_the_daemon_loop(tmp_path, receiver):
    url, got = receiver
    state = State.open(tmp_path / "s.db")
    logged: list[dict[str, Any]] = []
    script = iter([_report("r1", "ok"), _report("r2", "aborted", "HubSpot answered 503"),
                   _report("r3", "aborted", "HubSpot answered 503"), None,
                   _report("r5", "ok"), _report("r6", "budget")])
    stop = StopFlag()
    runs = 0

    def run() -> RunReport:
        nonlocal runs
        runs += 1
        report = next(script)
        if report is None:
            raise RuntimeError("boom")
        if runs == 6:
            stop.request("test")
        return report

    alerter = Alerter(state, WebhookUrl(url), logged.append)
    Daemon(run, Schedule(1.0), logged.append, stop, sleep=lambda s, f: None,
           after_run=alerter.after_run).serve()
    state.close()
    assert [m["leadsync"]["run_id"] for m in got] == ["r2", "r6"]   # not r3, not the crash
    assert got[0]["text"].startswith("leadsync on ") and "aborted: run r2 aborted: HubSpot answered 503" in got[0]["text"]
    assert got[0]["leadsync"]["reasons"] == [{"code": "aborted", "message": "run r2 aborted: HubSpot answered 503"}]
    assert got[1]["leadsync"]["reasons"][0]["code"] == "budget"
    assert "SECRETPART" not in json.dumps(logged) and "SECRETPART" not in json.dumps(got)
    # The open incident is in the state: a restarted daemon does not post r6's again.
    state = State.open(tmp_path / "s.db")
    Alerter(state, WebhookUrl(url), logged.append).after_run(_report("r7", "budget"))
    assert len(got) == 2
    state.close()


def test_a_new_parked_code_opens_an_incident_and_a_known_one_does_not(tmp_path, receiver):
    url, got = receiver
    state = State.open(tmp_path / "s.db")
    alerter = Alerter(state, WebhookUrl(url), lambda e: None)

    def park(run_id: str, code: str) -> None:
        state.db.table("ledger").insert({"conversion_id": f"{run_id}-{code}", "form_id": "f", "submitted_at": 1,
                                         "status": "failed", "action": "failed", "error_code": code,
                                         "run_id": run_id})

    park("r1", "INVALID_EMAIL")
    alerter.after_run(_report("r1", "partial"))          # first look: earlier codes... none; new
    park("r2", "INVALID_EMAIL")
    alerter.after_run(_report("r2", "partial"))          # known: closes the incident
    park("r3", "DUPLICATES_DETECTED")
    alerter.after_run(_report("r3", "partial"))
    state.close()
    assert [m["leadsync"]["reasons"][0]["message"] for m in got] == [
        "run r1 parked responses for new error codes: INVALID_EMAIL",
        "run r3 parked responses for new error codes: DUPLICATES_DETECTED"]


def test_a_failed_post_is_logged_without_the_url_and_retried(tmp_path):
    state = State.open(tmp_path / "s.db")
    logged: list[dict[str, Any]] = []
    url = WebhookUrl("http://127.0.0.1:9/services/SECRETPART")   # nothing listens on port 9
    alerter = Alerter(state, url, logged.append)
    alerter.after_run(_report("r1", "aborted", "x"))
    posted: list[dict[str, Any]] = []
    Alerter(state, url, logged.append, post=lambda u, b: posted.append(b)).after_run(_report("r2", "aborted", "x"))
    state.close()
    assert logged[0]["event"] == "alert_failed" and "SECRETPART" not in json.dumps(logged)
    assert len(posted) == 1      # the incident was not marked open by the failed post


def test_an_sla_breach_rate_over_the_threshold_posts_once_and_closes_when_back_under(tmp_path, receiver):
    """[alerts] sla_breach_rate: its own incident, from the lifecycle's watches of the window
    (a sync can be fine while sales is not), posted once, closed when the share falls."""
    from connector.adapters.sqlite.lifecycle import LifecycleStore
    from connector.commands.lifecycle import sla_breach_rate
    from connector.core.lifecycle.model import Watch, WatchState

    url, got = receiver
    state = State.open(tmp_path / "s.db")
    now_ms = 1_800_000_000_000
    store = LifecycleStore(state.db)

    def watches(n: int, breached: int, at: int) -> None:
        store.save_watches([Watch(f"00Q{at}{i}", f"p{i}@corp.example", "005A", None, at, at,
                                  reassignments=1 if i < breached else 0) for i in range(n)])

    watches(10, 1, now_ms - 3_600_000)                     # 10% in the last day
    watches(10, 10, now_ms - 3 * 86_400_000)               # old, out of the window
    logged: list[dict[str, Any]] = []
    alerter = Alerter(state, WebhookUrl(url), logged.append, sla_threshold=0.2,
                      sla=lambda: sla_breach_rate(state, 86_400, now_ms))
    alerter.after_run(_report("r1", "ok"))
    assert got == []
    watches(10, 5, now_ms - 1_800_000)                     # 6 of 20 now: 30%
    alerter.after_run(_report("r2", "ok"))
    alerter.after_run(_report("r3", "ok"))                 # still over: no second post
    assert len(got) == 1 and got[0]["leadsync"]["event"] == "sla_breach_rate"
    assert (got[0]["leadsync"]["handoffs"], got[0]["leadsync"]["breached"]) == (20, 6)
    assert "6 of 20 hand-offs (30%) breached the SLA" in got[0]["text"]
    assert "@" not in json.dumps(got) and "SECRETPART" not in json.dumps(logged)
    watches(20, 0, now_ms - 60_000)                         # 6 of 40: back under
    alerter.after_run(_report("r4", "ok"))
    assert any("SLA incident closed" in e.get("message", "") for e in logged)
    store.save_watches([Watch(f"00QX{i}", "x@corp.example", "005A", None, now_ms, now_ms,
                              state=WatchState.ESCALATED) for i in range(20)])
    alerter.after_run(_report("r5", "ok"))                 # over again: a new incident
    assert len(got) == 2
    state.close()


def test_sla_alert_settings():
    from connector.config.alerts import parse_alerts

    parsed = parse_alerts({"sla_breach_rate": 0.25, "sla_window": "7d"}, {})
    assert (parsed.sla_breach_rate, parsed.sla_window) == (0.25, 7 * 86_400)
    assert parse_alerts(None, {}).sla_breach_rate is None
    with pytest.raises(ConfigError) as bad:
        parse_alerts({"sla_breach_rate": 25}, {})
    assert bad.value.key == "alerts.sla_breach_rate"


# -- /healthz and /metrics -----------------------------------------------------------------

def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def test_healthz_flips_with_the_state_and_metrics_are_prometheus_text(tmp_path):
    settings = settings_from_dict({"salesforce": {"instance_url": "https://a.my.salesforce.com"},
                                   "state": {"path": str(tmp_path / "s.db")},
                                   "campaigns": [{"form_id": "f", "campaign_id": "c"}]},
                                  env={}, require_secrets=False)
    state = State.open(settings.state_path)     # the daemon's writable state, held open
    server = start_http(settings, ("127.0.0.1", 0), daemon_interval=60)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert _get(base + "/healthz")[0] == 200       # just started: not stale yet
        state.start_run("r1", "hybrid", False)
        state.finish_run("r1", "ok", {"pulled": 3, "api_used": 120, "api_limit": 1000})
        state.record_outcomes([], "r1", {"f": int((datetime.now(timezone.utc) - timedelta(seconds=90)).timestamp() * 1000)})
        assert _get(base + "/healthz")[:3:2] == (200, "ok\n")
        state.start_run("r2", "hybrid", False)
        state.finish_run("r2", "aborted", {}, "Salesforce answered 500")
        code, _, body = _get(base + "/healthz")
        assert code == 503 and body.startswith("aborted: last run r2 aborted")
        state.db.table("ledger").insert({"conversion_id": "c1", "form_id": "f", "submitted_at": 1,
                                         "status": "failed", "action": "failed",
                                         "error_code": "INVALID_EMAIL", "run_id": "r1"})
        code, kind, text = _get(base + "/metrics")
        assert code == 200 and kind.startswith("text/plain; version=")
        assert 'leadsync_runs_total{status="aborted"} 1.0' in text
        assert 'leadsync_runs_total{status="ok"} 1.0' in text
        assert 'leadsync_parked_responses{error_code="INVALID_EMAIL"} 1.0' in text
        assert 'leadsync_responses{outcome="failed"} 1.0' in text
        assert "leadsync_salesforce_api_used 120.0" in text and "leadsync_salesforce_api_limit 1000.0" in text
        assert "leadsync_healthy 0.0" in text and "leadsync_last_success_timestamp_seconds " in text
        lag = float(next(l for l in text.splitlines() if l.startswith("leadsync_newest_response_lag_seconds ")).split()[1])
        assert 89 <= lag < 200
        state.start_run("r3", "hybrid", False)
        state.finish_run("r3", "ok", {})
        assert _get(base + "/healthz")[0] == 200
        assert _get(base + "/nothing")[0] == 404
    finally:
        server.shutdown()
        server.server_close()
        state.close()


def test_healthz_follows_the_settings_a_reload_put_in_force(tmp_path):
    """The daemon hands ``current`` (its live settings): a reloaded ``stale_after`` applies
    to the probe without a restart."""
    from dataclasses import replace

    from connector.config.alerts import AlertSettings

    settings = settings_from_dict({"salesforce": {"instance_url": "https://a.my.salesforce.com"},
                                   "state": {"path": str(tmp_path / "s.db")},
                                   "campaigns": [{"form_id": "f", "campaign_id": "c"}]},
                                  env={}, require_secrets=False)
    state = State.open(settings.state_path)
    state.start_run("r1", "hybrid", False)
    state.finish_run("r1", "ok", {})
    live = {"settings": replace(settings, alerts=AlertSettings(stale_after=3600))}
    server = start_http(settings, ("127.0.0.1", 0), daemon_interval=60,
                        current=lambda: live["settings"])
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert _get(base + "/healthz")[0] == 200
        time.sleep(1.1)
        live["settings"] = replace(settings, alerts=AlertSettings(stale_after=1))   # reloaded
        code, _, body = _get(base + "/healthz")
        assert code == 503 and body.startswith("stale:"), body
    finally:
        server.shutdown()
        server.server_close()
        state.close()


def test_parse_http():
    assert parse_http(":8080") == ("", 8080)
    assert parse_http("127.0.0.1:9100") == ("127.0.0.1", 9100)
    assert parse_http("[::1]:8080") == ("::1", 8080)
    for bad in ("8080x", "host", "h:99999"):
        with pytest.raises(ConfigError, match="--http"):
            parse_http(bad)


def test_the_deployment_probes_healthz_on_the_daemons_http_port():
    from pathlib import Path

    import yaml

    docs = list(yaml.safe_load_all((Path(__file__).resolve().parents[1] / "docs" /
                                    "kubernetes-deployment.yaml").read_text()))
    container = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert args[args.index("--http") + 1] == ":8080"
    assert container["ports"][0]["containerPort"] == 8080
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
