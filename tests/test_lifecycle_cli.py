"""``leadsync lifecycle`` (the dry run's reasons, --json), the daemon cycle step, ``status``'s
per-owner figures and ``mappings check``'s lines, against the sandbox."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connector.adapters.sqlite.ledger import State
from connector.adapters.transport import RetryPolicy
from connector.cli import main
from connector.commands.cycle import Cycle, run_steps, steps_for
from connector.commands.mappings_check import check
from connector.engine.wiring import clients
from lifecycle_world import HOUR, World, make_world, now
from sync_helpers import _toml


@pytest.fixture
def world(sandbox, tmp_path) -> World:
    return make_world(sandbox, tmp_path)


def toml_of(data: dict[str, Any], prefix: str = "") -> list[str]:
    """Just enough TOML for a config: scalars, lists of scalars, tables, arrays of tables."""
    lines: list[str] = []
    tables: list[tuple[str, Any]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            tables.append((key, value))
        elif isinstance(value, list):
            lines.append(f"{key} = [{', '.join(_toml(v) for v in value)}]")
        else:
            lines.append(f"{key} = {_toml(value)}")
    for key, value in tables:
        name = f"{prefix}{key}"
        if isinstance(value, list):
            for item in value:
                lines += [f"[[{name}]]", *toml_of(item, name + ".")]
        else:
            lines += [f"[{name}]", *toml_of(value, name + ".")]
    return lines


def write_config(world: World, path: Path, **lifecycle: Any) -> Path:
    data = {"method": "hybrid",
            "salesforce": {"instance_url": world.sandbox.url},
            "hubspot": {"base_url": world.sandbox.url},
            "state": {"path": str(world.state_path)},
            "sync": {"start": "2025-01-01"},
            "campaigns": [{"form_id": f, "campaign_id": c}
                          for f, c in zip(world.forms, world.campaigns)],
            "routing": world.routing(), "lifecycle": world.lifecycle_table(**lifecycle)}
    path.write_text("\n".join(toml_of(data)) + "\n")
    return path


def test_dry_run_lists_each_action_with_its_reason(world, tmp_path):
    world.hand_off("pat@corp.com")
    config = write_config(world, tmp_path / "leadsync.toml", sla="1s")
    import time
    time.sleep(2.2)      # the SLA is one second: the hand-off is breached now
    result = CliRunner().invoke(main, ["lifecycle", "--config", str(config), "--dry-run"],
                                env=world.env())
    assert result.exit_code == 0, result.output
    assert "lifecycle dry run (nothing written)" in result.output
    assert "without a touch; from Ade to Bea, 1st reassignment" in result.output
    as_json = CliRunner().invoke(main, ["lifecycle", "--config", str(config), "--json"],
                                 env=world.env())
    report = json.loads(as_json.output)
    assert report["counts"] == {"reassign": 1} and report["dry_run"] is False
    assert report["actions"][0]["to_owner"] == "Bea"


def test_status_shows_per_owner_figures(world, tmp_path):
    lead = world.hand_off("pat@corp.com")
    world.hand_off("sam@corp.com")
    world.sf.update("Lead", lead, {"Status": "Working - Contacted"})
    config = write_config(world, tmp_path / "leadsync.toml")
    world.run(now() + 3 * HOUR)            # pat touched, sam breached and reassigned
    result = CliRunner().invoke(main, ["status", "--config", str(config), "--json"],
                                env=world.env())
    rows = {r["owner"]: r for r in json.loads(result.output)["lifecycle"]}
    assert rows["Ade"]["handoffs"] == 2 and rows["Ade"]["breaches"] == 1
    assert rows["Ade"]["reassignments"] == 1 and rows["Ade"]["within_sla_share"] == 1.0
    text = CliRunner().invoke(main, ["status", "--config", str(config)], env=world.env()).output
    assert "Lead lifecycle (per owner at hand-off):" in text and "Ade" in text
    page = tmp_path / "status.html"
    made = CliRunner().invoke(main, ["status", "--config", str(config), "--html", str(page)],
                              env=world.env())
    assert made.exit_code == 0, made.output
    html = page.read_text()
    assert '<table class="lifecycle">' in html
    assert '<tr><td>Ade</td><td class="n">2</td>' in html and "100%" in html


def test_mappings_check_names_missing_and_inactive_owners_and_fields(world):
    world.sf.update("User", world.users["cy"], {"IsActive": False})
    settings = world.settings("hybrid", routing=world.routing(), lifecycle=world.lifecycle_table(
        escalate_to="user:nobody@acme.example", recycle_date_field="Gone_Date__c",
        recycle_owner="queue:No_Such_Queue"))
    lines = [str(p) for p in check(settings).routing]
    assert any("lifecycle.pool[1]" in line and "inactive" in line for line in lines)
    assert any("lifecycle.escalate_to" in line and "no user" in line for line in lines)
    assert any("lifecycle.recycle_date_field" in line and "Gone_Date__c" in line for line in lines)
    assert any("lifecycle.recycle_owner" in line and "No_Such_Queue" in line for line in lines)
    assert not any("recycled_status" in line for line in lines)   # "Recycled" is a Lead Status


def test_mappings_check_names_a_recycle_status_the_org_lacks(world):
    settings = world.settings("hybrid", routing=world.routing(), lifecycle=world.lifecycle_table(
        recycled_status="Sent Back"))
    lines = [str(p) for p in check(settings).routing]
    assert any("lifecycle.recycled_status -> Lead.Status" in line
               and "'Sent Back' is not a Lead Status in this org" in line for line in lines), lines


def test_the_daemon_runs_the_pass_after_each_sync(world):
    lead = world.hand_off("pat@corp.com")
    settings = world.config()
    steps = steps_for(settings)
    assert [name for name, _ in steps] == ["parked_retry", "lifecycle"]
    logged: list[dict[str, Any]] = []
    state = State.open(settings.state_path)
    try:
        state.lock()
        at = datetime.fromtimestamp((now() + 3 * HOUR) / 1000, timezone.utc)
        run_steps(steps, Cycle(settings=settings, state=state,
                               clients=clients(settings, retry=RetryPolicy.fast()),
                               log=logged.append, should_stop=lambda: False, now=at))
    finally:
        state.close()
    events = [line for line in logged if line["event"] == "lifecycle"]
    assert len(events) == 1 and events[0]["reassign"] == 1, logged
    assert world.lead(lead)["OwnerId"] == world.users["bea"]
    assert [name for name, _ in steps_for(world.settings("hybrid"))] == ["parked_retry"]


def test_the_daemon_wires_the_sla_alert_to_the_lifecycle_watches(world):
    from connector.commands.daemon import _Live

    world.hand_off("pat@corp.com")
    world.hand_off("sam@corp.com")
    world.run(now() + 3 * HOUR)             # both breached and reassigned
    settings = world.settings("hybrid", routing=world.routing(), lifecycle=world.lifecycle_table(),
                              alerts={"webhook": "http://127.0.0.1:9/hook", "sla_breach_rate": 0.5})
    state = State.open(settings.state_path)
    try:
        live = _Live(settings, state, lambda event: None)
        assert live.alerter is not None and live.alerter.sla_threshold == 0.5
        assert live.alerter.sla is not None
        rate = live.alerter.sla()
        assert (rate.handoffs, rate.breached) == (2, 2)
        plain = _Live(world.config(), state, lambda event: None)
        assert plain.alerter is None                 # no webhook: nothing to post to
    finally:
        state.close()
