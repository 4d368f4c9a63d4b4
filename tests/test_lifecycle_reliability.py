"""Every lifecycle action happens once across kills and lost replies: a pass stopped at each
step (an exception standing for SIGKILL, and a real SIGKILL of a child process), or whose
write replies are dropped after Salesforce applied them, then run again, leaves one
reassignment, one rotation step and one Task per action."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from connector.adapters.sqlite.ledger import State
from connector.adapters.sqlite.lifecycle import LifecycleStore
from lifecycle_world import HOUR, World, make_world, now

ROOT = Path(__file__).resolve().parent.parent
STEPS = ["intents", "updates", "creates", "settled"]


class Killed(BaseException):
    """Stands for SIGKILL at a step of the pass."""


def kill_at(step: str):
    def checkpoint(name: str) -> None:
        if name == step:
            raise Killed(step)
    return checkpoint


@pytest.fixture
def world(sandbox, tmp_path) -> World:
    return make_world(sandbox, tmp_path)


def escalations(world: World, lead: str) -> list[dict]:
    return [t for t in world.tasks(lead) if t["OwnerId"] == world.users["max"]]


def actions(world: World) -> list[dict]:
    state = State.open(world.state_path)
    try:
        return list(state.db.query("SELECT kind, status FROM lc_action ORDER BY created_ms"))
    finally:
        state.close()


@pytest.mark.parametrize("step", STEPS)
def test_a_reassignment_killed_at_each_step_happens_once(world, step):
    lead = world.hand_off("pat@corp.com")
    second = world.hand_off("sam@corp.com")
    t = now() + 3 * HOUR
    with pytest.raises(Killed):
        world.run(t, checkpoint=kill_at(step))
    again = world.run(t + 60_000)
    # both breached once: one went to Bea, the other to Cy, whatever the kill interrupted
    got = {world.lead(lead)["OwnerId"], world.lead(second)["OwnerId"]}
    assert got == {world.users["bea"], world.users["cy"]}
    for who in (lead, second):
        assert {x["OwnerId"] for x in world.tasks(who)} == {world.lead(who)["OwnerId"]}
    kinds = [a["kind"] for a in actions(world)]
    assert kinds == ["reassign", "reassign"] and {a["status"] for a in actions(world)} == {"done"}
    assert again.replayed == (0 if step == "settled" else 2) and again.status == "ok"
    assert world.run(t + 2 * 60_000).counts == {"leave": 2}      # a rerun changes nothing


@pytest.mark.parametrize("step", STEPS)
def test_an_escalation_killed_at_each_step_creates_one_task(world, step):
    lead = world.hand_off("pat@corp.com")
    settings = world.config(on_breach="escalate")
    t = now() + 3 * HOUR
    with pytest.raises(Killed):
        world.run(t, settings=settings, checkpoint=kill_at(step))
    world.run(t + 60_000, settings=settings)
    world.run(t + 2 * 60_000, settings=settings)
    assert len(escalations(world, lead)) == 1
    assert [a["kind"] for a in actions(world)] == ["escalate"]


def test_a_lost_reply_on_the_reassignment_is_sent_again_once(world):
    lead = world.hand_off("pat@corp.com")
    world.sandbox.app.faults.configure(families=["salesforce.collections"],
                                       fail_next=["apply_then_drop"])
    report = world.run(now() + 3 * HOUR)
    assert world.sandbox.app.faults.stats["apply_then_drop"] == 1
    assert report.status == "ok" and report.counts == {"reassign": 1}
    assert world.lead(lead)["OwnerId"] == world.users["bea"]
    assert world.run(now() + 3 * HOUR + 60_000).counts == {"leave": 1}
    assert [a["kind"] for a in actions(world)] == ["reassign"]


def test_a_lost_reply_on_the_escalation_task_then_a_rerun_leaves_one_task(world):
    lead = world.hand_off("pat@corp.com")
    settings = world.config(on_breach="escalate")
    world.sandbox.app.faults.configure(families=["salesforce.collections"],
                                       fail_next=["apply_then_drop"])
    t = now() + 3 * HOUR
    first = world.run(t, settings=settings)
    assert world.sandbox.app.faults.stats["apply_then_drop"] == 1
    assert first.status == "interrupted"
    assert len(escalations(world, lead)) == 1          # Salesforce applied it; the reply was lost
    rerun = world.run(t + 60_000, settings=settings)
    assert rerun.replayed == 1 and rerun.status == "ok"
    assert len(escalations(world, lead)) == 1
    assert [(a["kind"], a["status"]) for a in actions(world)] == [("escalate", "done")]


CHILD = """
import os, signal, sys, json
sys.path.insert(0, {tests!r})
from connector.config.settings import settings_from_dict
from connector.adapters.sqlite.ledger import State
from connector.adapters.transport import RetryPolicy
from connector.engine.lifecycle import PassOptions, run_lifecycle
from connector.engine.wiring import clients
data = json.loads(sys.argv[1])
settings = settings_from_dict(data, env={{}})
def checkpoint(step):
    if step == sys.argv[2]:
        os.kill(os.getpid(), signal.SIGKILL)
state = State.open(settings.state_path)
state.lock()
run_lifecycle(settings, state, clients(settings, retry=RetryPolicy.fast()).salesforce,
              PassOptions(now_ms=int(sys.argv[3]), checkpoint=checkpoint))
"""


@pytest.mark.parametrize("step", ["updates", "creates"])
def test_a_sigkilled_pass_is_finished_by_the_next_without_doubles(world, step):
    lead = world.hand_off("pat@corp.com")
    data = {"method": "hybrid",
            "salesforce": {"instance_url": world.sandbox.url, "access_token": world.sandbox.token},
            "hubspot": {"base_url": world.sandbox.url, "access_token": world.sandbox.token},
            "state": {"path": str(world.state_path)},
            "campaigns": [{"form_id": f, "campaign_id": c}
                          for f, c in zip(world.forms, world.campaigns)],
            "routing": world.routing(),
            "lifecycle": world.lifecycle_table(on_breach="escalate")}
    t = now() + 3 * HOUR
    child = subprocess.run([sys.executable, "-c", CHILD.format(tests=str(ROOT / "tests")),
                            json.dumps(data), step, str(t)], cwd=ROOT, capture_output=True,
                           timeout=120, env={**os.environ})
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    settings = world.config(on_breach="escalate")
    assert [a["status"] for a in actions(world)] == ["pending"]
    rerun = world.run(t + 60_000, settings=settings)
    assert rerun.replayed == 1
    assert len(escalations(world, lead)) == 1
    store = LifecycleStore(State.open(world.state_path).db)
    assert store.watch(lead).state.value == "escalated"


@pytest.mark.parametrize("step", STEPS)
def test_a_recycling_killed_at_each_step_happens_once(world, step):
    lead = world.hand_off("pat@corp.com")
    world.sf.update("Lead", lead, {"Status": "Recycled"})
    t = now()
    with pytest.raises(Killed):
        world.run(t, checkpoint=kill_at(step))
    world.run(t + 60_000)
    got = world.lead(lead)
    assert got["OwnerId"] == world.queue and got["Status"] == "Open - Not Contacted"
    assert [(a["kind"], a["status"]) for a in actions(world)] == [("recycle", "done")]


def test_a_come_back_whose_task_reply_is_lost_gives_one_new_task(world):
    lead = world.hand_off("pat@corp.com")
    world.sf.update("Lead", lead, {"Status": "Recycled"})
    t = now()
    world.run(t)
    world.fill(0, "pat@corp.com", lastname="Doe")
    world.sync("hybrid", routing=world.routing())
    routing = world.routing()
    routing["stages"]["sales_ready_forms"] = world.forms      # that response counts as sales-ready
    settings = world.settings("hybrid", routing=routing, lifecycle=world.lifecycle_table())
    before = len(world.tasks(lead))
    def lose_the_create(step: str) -> None:   # after the Lead update, before the Task create
        if step == "updates":
            world.sandbox.app.faults.configure(families=["salesforce.collections"],
                                               fail_next=["apply_then_drop"])

    first = world.run(t + 31 * 24 * HOUR, settings=settings, checkpoint=lose_the_create)
    assert world.sandbox.app.faults.stats["apply_then_drop"] == 1
    assert first.status == "interrupted"
    world.run(t + 31 * 24 * HOUR + 60_000, settings=settings)
    world.run(t + 31 * 24 * HOUR + 120_000, settings=settings)
    assert len(world.tasks(lead)) == before + 1
    assert world.lead(lead)["Status"] == "Sales Ready"
    assert [(a["kind"], a["status"]) for a in actions(world)] == [("recycle", "done"),
                                                                 ("come_back", "done")]
