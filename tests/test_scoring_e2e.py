"""[scoring] end to end, with the real clients against the sandbox: a person crossing the
threshold on their third response is handed off once; a rerun changes nothing; a decayed
score is written without touching a rep's Lead Status; ``score explain`` matches the stored
score; the rescore's promotion is exactly once across kills and lost replies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from connector.adapters.sqlite.ledger import State
from connector.adapters.sqlite.scoring import ScoreStore
from connector.adapters.transport import RetryPolicy
from connector.cli import main
from connector.commands import score as score_cmd
from connector.commands.score import explain_command, score_command
from connector.render.score import explain_json
from sync_helpers import EXT, T0, Org

SCORE, DATE, REASONS = "Leadsync_Score__c", "Leadsync_Score_Date__c", "Leadsync_Score_Reasons__c"
FIELDS = {SCORE: {"type": "double"}, DATE: {"type": "date"},
          REASONS: {"type": "string", "length": 255}}
NURTURE, READY = "Open - Not Contacted", "Working - Contacted"
DAY = 86_400_000


class Killed(BaseException):
    """Stands for SIGKILL at a step of the rescore."""


def make_org(sandbox, tmp_path, task_field: dict[str, Any] | None | str = "default") -> Org:
    schema: dict[str, Any] = {"Lead": dict(FIELDS), "Contact": dict(FIELDS)}
    if task_field != "default":
        schema["Task"] = {EXT: task_field}
    sandbox.app.load({"salesforce": {"schema": schema}})
    org = Org(sandbox, tmp_path / "leadsync.db")
    org.add_forms(2)
    org.sf.store.add_user("Doe", first_name="Jane", username="jane@acme.example")
    return org


def sections(org: Org, sales_ready: float = 50, **extra: Any) -> dict[str, Any]:
    """Every fill of form 0 or 1 is worth 20 points, halving every 30 days; 50 is sales-ready."""
    return {
        "routing": {"mode": "rules", "default_owner": "user:jane@acme.example",
                    "stages": {"nurture": NURTURE, "sales_ready": READY},
                    "tasks": {"sla": "4h", "max_age": "3650d"}},
        "scoring": {"sales_ready": sales_ready, "half_life": "30d", "lead_field": SCORE,
                    "contact_field": SCORE, "date_field": DATE, "reasons_field": REASONS,
                    "behaviour": [{"name": "webinar", "points": 20, "form": org.forms[0]},
                                  {"name": "whitepaper", "points": 20, "form": org.forms[1]}],
                    **extra},
    }


def sync(org: Org, **kw: Any) -> Any:
    report = org.sync("hybrid", **sections(org, **kw))
    assert report.status == "ok", report.error
    return report


def tasks_of(org: Org, who: str) -> list[dict[str, Any]]:
    return [t for t in org.sf.records("Task") if t["WhoId"] == who]


def rescore(org: Org, now_ms: int, *, dry_run: bool = False, **kw: Any) -> Any:
    return score_command(org.settings("hybrid", **sections(org, **kw)), dry_run=dry_run,
                         now_ms=now_ms, retry=RetryPolicy.fast())


def test_crossing_on_the_third_response_hands_off_once_and_a_rerun_changes_nothing(sandbox, tmp_path):
    org = make_org(sandbox, tmp_path)
    for form in (0, 1, 0):
        org.fill(form, "bob@acme.example", lastname="Smith", company="Acme")
        sync(org)
        (lead,) = org.leads("bob@acme.example")
        if form == 1:                      # 40 after two responses: still nurture, no Task
            assert (lead[SCORE], lead["Status"], tasks_of(org, lead["Id"])) == (40, NURTURE, [])
    assert (lead[SCORE], lead["Status"]) == (60, READY)
    assert lead[REASONS] == "webinar +40; whitepaper +20"
    (task,) = tasks_of(org, lead["Id"])
    assert "Score 60 (behaviour 60, fit 0):" in task["Description"]
    assert "Earlier responses:" in task["Description"]

    before = {t: org.sf.records(t) for t in ("Lead", "Task", "CampaignMember")}
    sync(org)                               # nothing new: nothing changes
    org.fill(1, "amy@acme.example", lastname="Lee", company="Acme")
    sync(org)                               # another person's response: bob untouched
    assert org.leads("bob@acme.example") == before["Lead"]
    assert tasks_of(org, lead["Id"]) == [task]
    stored = ScoreStore(State.open(org.state_path)).people()
    assert (stored["bob@acme.example"].score, stored["amy@acme.example"].score) == (60, 20)


def test_the_decayed_score_is_written_without_touching_the_reps_status(sandbox, tmp_path):
    org = make_org(sandbox, tmp_path)
    for form in (0, 1, 0):
        org.fill(form, "bob@acme.example", lastname="Smith", company="Acme")
    sync(org)
    (lead,) = org.leads("bob@acme.example")
    assert (lead[SCORE], lead["Status"], len(tasks_of(org, lead["Id"]))) == (60, READY, 1)

    later = org.clock + 60 * DAY             # two half-lives: 60 -> 15
    dry = rescore(org, later, dry_run=True)
    assert dry.counts == {"people": 1, "changed": 1, "up": 0, "down": 1}
    assert dry.down == [("bob@acme.example", 15, 60)]
    assert org.leads("bob@acme.example") == [lead]          # a dry run writes nothing

    sandbox.counters.clear()
    report = rescore(org, later)
    (after,) = org.leads("bob@acme.example")
    assert (after[SCORE], after["Status"], after["OwnerId"]) == (15, READY, lead["OwnerId"])
    assert after[DATE] != lead[DATE] and report.demoted == 0 and report.written == 1
    assert len(tasks_of(org, lead["Id"])) == 1
    assert [(r.email, r.sobject, r.score, r.changed) for r in report.rows] == \
        [("bob@acme.example", "Lead", 15, True)]

    again = rescore(org, later + 3_600_000)                  # an hour later: nothing changed
    assert (again.counts["changed"], again.written) == (0, 0)
    assert org.leads("bob@acme.example") == [after]

    explained = explain_command(org.settings("hybrid", **sections(org)), "Bob@acme.example",
                                now_ms=later)
    data = explain_json(explained)
    assert set(data) == {"email", "total", "behaviour", "fit", "points"}
    assert round(data["total"]) == after[SCORE] == ScoreStore(State.open(org.state_path)).people()[
        "bob@acme.example"].score
    assert [(p["rule"], p["points"], p["decayed_to"]) for p in data["points"]] == \
        [("webinar", 20, 5.0), ("whitepaper", 20, 5.0), ("webinar", 20, 5.0)]


def _crossing_by_a_rule_change(org: Org) -> str:
    """Bob synced while 100 was sales-ready (score 40, nurture); the rules then say 30."""
    org.fill(0, "bob@acme.example", lastname="Smith", company="Acme")
    org.fill(1, "bob@acme.example")
    sync(org, sales_ready=100)
    (lead,) = org.leads("bob@acme.example")
    assert (lead[SCORE], lead["Status"], tasks_of(org, lead["Id"])) == (40, NURTURE, [])
    return lead["Id"]


def test_a_rule_change_previewed_then_promoted_once(sandbox, tmp_path):
    org = make_org(sandbox, tmp_path)
    lead_id = _crossing_by_a_rule_change(org)
    # the preview of the new rule: the same number, now over the threshold
    dry = rescore(org, org.clock, dry_run=True, sales_ready=30)
    assert (dry.counts, dry.up, dry.rows) == (
        {"people": 1, "changed": 0, "up": 1, "down": 0}, [("bob@acme.example", 40, 40)], [])
    later = org.clock + DAY                  # a day later the score has decayed to 39
    report = rescore(org, later, sales_ready=30)
    assert (report.promoted, report.tasks) == (1, 1)
    (lead,) = org.leads("bob@acme.example")
    assert (lead["Status"], lead[SCORE]) == (READY, 39)
    (task,) = tasks_of(org, lead_id)
    assert "reached score 39" in task["Subject"] and "Responses:" in task["Description"]
    rescore(org, later + DAY, sales_ready=30)                # decays to 38: no second hand-off
    assert len(tasks_of(org, lead_id)) == 1


@pytest.mark.parametrize("step", ["begin_handoffs", "update_mixed", "create_or_upsert",
                                  "record_scores", "finish_handoffs"])
@pytest.mark.parametrize("task_field", ["default", None])
def test_a_rescore_killed_at_any_step_then_rerun_hands_off_once(sandbox, tmp_path, monkeypatch,
                                                                 step, task_field):
    org = make_org(sandbox, tmp_path, task_field)
    lead_id = _crossing_by_a_rule_change(org)
    later = org.clock + DAY
    target: Any
    if step in ("begin_handoffs", "record_scores", "finish_handoffs"):
        target, name = ScoreStore, step
    elif step == "update_mixed":
        from connector.adapters.salesforce.client import SalesforceClient as target
        name = "update_mixed"
    else:
        from connector.adapters.salesforce.client import SalesforceClient as target
        name = "upsert" if task_field == "default" else "create"
    real = getattr(target, name)

    def killed_after(self: Any, *args: Any, **kwargs: Any) -> Any:
        real(self, *args, **kwargs)
        raise Killed()

    monkeypatch.setattr(target, name, killed_after)
    with pytest.raises(Killed):
        rescore(org, later, sales_ready=30)
    monkeypatch.setattr(target, name, real)
    rescore(org, later + 60_000, sales_ready=30)
    rescore(org, later + 120_000, sales_ready=30)
    (lead,) = org.leads("bob@acme.example")
    assert (lead["Status"], lead[SCORE]) == (READY, 39)
    assert len(tasks_of(org, lead_id)) == 1
    assert ScoreStore(State.open(org.state_path)).handoff_count() == 1


@pytest.mark.parametrize("task_field", ["default", None])
def test_a_rescore_whose_replies_are_lost_then_rerun_hands_off_once(sandbox, tmp_path, task_field):
    org = make_org(sandbox, tmp_path, task_field)
    lead_id = _crossing_by_a_rule_change(org)
    later = org.clock + DAY
    # every write's reply is lost once: the record update, then the Task write
    sandbox.app.faults.configure(families=["salesforce.collections"],
                                 fail_next=["apply_then_drop", "apply_then_drop"])
    try:
        rescore(org, later, sales_ready=30)
    except Exception as exc:   # a create whose reply is lost is ambiguous: the run stops
        assert type(exc).__name__ == "AmbiguousWrite"
    sandbox.app.faults.configure(fail_next=[])
    rescore(org, later + 60_000, sales_ready=30)
    assert sandbox.app.faults.stats["apply_then_drop"] == 2
    (lead,) = org.leads("bob@acme.example")
    assert lead["Status"] == READY and len(tasks_of(org, lead_id)) == 1
    rescore(org, later + 120_000, sales_ready=30)
    assert len(tasks_of(org, lead_id)) == 1


def test_daily_step_runs_once_a_day(sandbox, tmp_path):
    org = make_org(sandbox, tmp_path)
    org.fill(0, "bob@acme.example", lastname="Smith", company="Acme")
    sync(org)
    state = State.open(org.state_path)
    assert score_cmd.rescore_due(state, T0)
    rescore(org, org.clock + DAY)
    assert not score_cmd.rescore_due(State.open(org.state_path), org.clock + DAY + 3_600_000)
    assert score_cmd.rescore_due(State.open(org.state_path), org.clock + 2 * DAY)


def test_cli_explain_json_and_dry_run(sandbox, tmp_path):
    org = make_org(sandbox, tmp_path)
    org.fill(0, "bob@acme.example", lastname="Smith", company="Acme")
    sync(org)
    path = org.write_config(tmp_path / "leadsync.toml")
    scoring = sections(org)["scoring"]
    lines = ["[scoring]"] + [f"{k} = {json.dumps(v)}" for k, v in scoring.items()
                             if k != "behaviour"]
    for rule in scoring["behaviour"]:
        lines += ["[[scoring.behaviour]]"] + [f"{k} = {json.dumps(v)}" for k, v in rule.items()]
    path.write_text(path.read_text() + "\n".join(lines) + "\n")
    runner = CliRunner()
    out = runner.invoke(main, ["score", "explain", "bob@acme.example", "--config", str(path),
                               "--json"], env=org.env())
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert set(data) == {"email", "total", "behaviour", "fit", "points"}
    assert data["points"][0]["rule"] == "webinar" and data["points"][0]["points"] == 20
    out = runner.invoke(main, ["score", "--config", str(path), "--dry-run"], env=org.env())
    assert out.exit_code == 0, out.output
    assert out.output.startswith("dry run: nothing written: 1 people")


def test_the_daemon_step_rescores_once_a_day(sandbox, tmp_path):
    from datetime import datetime, timezone

    from connector.commands.cycle import Cycle, run_steps, steps_for
    from connector.engine.wiring import clients

    org = make_org(sandbox, tmp_path)
    for form in (0, 1, 0):
        org.fill(form, "bob@acme.example", lastname="Smith", company="Acme")
    sync(org)
    settings = org.settings("hybrid", **sections(org))
    steps = steps_for(settings)
    assert [name for name, _ in steps] == ["parked_retry", "rescore"]
    assert [name for name, _ in steps_for(org.settings("hybrid"))] == ["parked_retry"]
    logs: list[dict[str, Any]] = []
    state = State.open(org.state_path)
    vendors = clients(settings, retry=RetryPolicy.fast())
    for hours in (24 * 60, 24 * 60 + 5):        # 60 days later, then five hours after that
        now = datetime.fromtimestamp((org.clock + hours * 3_600_000) / 1000, tz=timezone.utc)
        run_steps(steps, Cycle(settings, state, vendors, logs.append, lambda: False, now))
    rescores = [line for line in logs if line["event"] == "rescore"]
    assert len(rescores) == 1, logs                                  # once a day
    assert rescores[0]["changed"] == 1 and rescores[0]["written"] == 1
    (lead,) = org.leads("bob@acme.example")
    assert (lead[SCORE], lead["Status"]) == (15, READY)


def test_a_sync_killed_before_its_outcomes_counts_the_response_once(sandbox, tmp_path, monkeypatch):
    org = make_org(sandbox, tmp_path)
    for form in (0, 1):
        org.fill(form, "bob@acme.example", lastname="Smith", company="Acme")
    sync(org)
    org.fill(0, "bob@acme.example")                 # the third response: 60, sales-ready
    dry = org.sync("hybrid", dry_run=True, **sections(org))
    assert dry.status == "ok" and org.leads("bob@acme.example")[0][SCORE] == 40
    real = State.record_outcomes

    def killed(self: Any, *args: Any, **kwargs: Any) -> None:
        raise Killed()

    monkeypatch.setattr(State, "record_outcomes", killed)
    with pytest.raises(Killed):                    # written; outcome (and so history) not
        org.sync("hybrid", **sections(org))
    monkeypatch.setattr(State, "record_outcomes", real)
    sync(org)                                      # the pending response is replayed
    sync(org)
    (lead,) = org.leads("bob@acme.example")
    assert (lead[SCORE], lead["Status"], len(tasks_of(org, lead["Id"]))) == (60, READY, 1)
    stored = ScoreStore(State.open(org.state_path)).people()["bob@acme.example"]
    assert (stored.score, len(stored.events)) == (60, 3)


def test_a_sync_whose_replies_are_lost_keeps_each_response_once(sandbox, tmp_path):
    """The sync's scored writes with their replies lost (applied, then dropped): the batch
    is re-resolved and recorded once, so the history (the ledger) holds each response once
    and the third fill still hands off once."""
    org = make_org(sandbox, tmp_path)
    for form in (0, 1):
        org.fill(form, "bob@acme.example", lastname="Smith", company="Acme")
    sync(org)
    org.fill(0, "bob@acme.example")                 # the third response: 60, sales-ready
    sandbox.app.faults.configure(families=["salesforce.collections", "salesforce.composite"],
                                 fail_next=["apply_then_drop"])
    sync(org)
    assert sandbox.app.faults.stats["apply_then_drop"] == 1
    sync(org)
    (lead,) = org.leads("bob@acme.example")
    assert (lead[SCORE], lead["Status"], len(tasks_of(org, lead["Id"]))) == (60, READY, 1)
    stored = ScoreStore(State.open(org.state_path)).people()["bob@acme.example"]
    assert (stored.score, len(stored.events)) == (60, 3)


def test_the_score_reaches_hubspot_through_the_write_back_and_follows_the_decay(sandbox, tmp_path):
    """With [writeback], ``leadsync_score`` carries the stored score; a rescore's change is
    sent by the next write-back, an unchanged one is not sent again."""
    from test_writeback import contact, create_properties, writeback_run

    org = make_org(sandbox, tmp_path)
    create_properties(org)
    for form in (0, 1):
        org.fill(form, "bob@acme.example", lastname="Smith", company="Acme")
    sync(org)
    settings = org.settings("hybrid", **sections(org), writeback={})
    assert writeback_run(org, settings).counts.sent == 1
    assert contact(org, "bob@acme.example")["leadsync_score"] == "40"
    again = writeback_run(org, settings)
    assert (again.counts.sent, again.counts.unchanged) == (0, 1)
    rescore(org, org.clock + 30 * DAY)                      # one half-life: 40 -> 20
    assert writeback_run(org, settings).counts.sent == 1
    assert contact(org, "bob@acme.example")["leadsync_score"] == "20"
