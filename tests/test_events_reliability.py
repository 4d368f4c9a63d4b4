"""Event responses exactly once across lost replies and SIGKILLs: no duplicate Lead or
membership, no status moving backwards, each participation recorded once."""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from connector.adapters.sqlite.ledger import State
from event_world import EventWorld
from sync_helpers import EXT, WORLD_START, Org

ROOT = Path(__file__).resolve().parent.parent
KEYED = {"salesforce": {"lead_external_id_field": EXT}}
NO_FAULTS = dict(error_rate=0, rate_limit_rate=0, drop_rate=0, apply_then_drop_rate=0, fail_next=[])


@pytest.fixture
def world(sandbox, tmp_path) -> EventWorld:
    w = EventWorld(Org(sandbox, tmp_path / "leadsync.db"))
    w.create_event()
    return w


def register_and_attend(w: EventWorld, people: int, *, attend_every: int = 2,
                        attend_first_every: int = 5) -> dict[str, str]:
    """Each person registers; every ``attend_every``-th attends (every
    ``attend_first_every``-th of those has the attendance recorded first). Returns the
    status each person must end at."""
    expected = {}
    for i in range(people):
        email = f"p{i}@example.com"
        attends = i % attend_every == 0
        if attends and i % attend_first_every == 0:
            w.record("attended", email, lastname=f"L{i}")
            w.record("registered", email)
        else:
            w.record("registered", email, lastname=f"L{i}")
            if attends:
                w.record("attended", email)
        expected[email] = "Attended" if attends else "Registered"
    return expected


def assert_exactly_once(w: EventWorld, expected: dict[str, str], participations: int) -> None:
    open_leads = collections.Counter(lead["Email"] for lead in w.org.leads()
                                     if not lead["IsConverted"])
    assert set(open_leads) == set(expected) and max(open_leads.values()) == 1, "a second Lead"
    members = w.members()
    per_person = collections.Counter(m["Email"] for m in members)
    assert max(per_person.values()) == 1, "a duplicate CampaignMember"
    assert {m["Email"]: m["Status"] for m in members} == expected
    with closing(State.open(w.org.state_path)) as state:
        rows = state.rows()
    assert len(rows) == participations
    assert {r["status"] for r in rows} == {"applied"}


@pytest.mark.parametrize("family,method", [("salesforce.collections", "hybrid"),
                                           ("salesforce", "unique"), ("salesforce", "poi")])
def test_replies_lost_at_each_write_give_no_duplicate_and_no_step_back(world, family, method):
    for i in range(10):
        world.record("registered", f"p{i}@example.com", lastname=f"L{i}")
    faults = world.org.sandbox.app.faults
    faults.configure(families=[family], fail_next=["apply_then_drop"] * 3)
    first = world.sync(method, **KEYED)
    assert first.status == "ok", first.error
    assert faults.stats["apply_then_drop"] >= 1
    for i in range(0, 10, 2):
        world.record("attended", f"p{i}@example.com")
    world.record("registered", "p0@example.com")      # a late repeat of a registration
    faults.configure(families=[family], fail_next=["apply_then_drop"] * 3)
    second = world.sync(method, **KEYED)
    faults.configure(**NO_FAULTS)
    assert second.status == "ok", second.error
    expected = {f"p{i}@example.com": "Attended" if i % 2 == 0 else "Registered" for i in range(10)}
    assert_exactly_once(world, expected, 15)   # the repeat is the same response: skipped
    assert world.sync(method, **KEYED).counts.get("pulled", 0) == 0


def test_hubspot_errors_and_rate_limits_on_the_event_reads_are_retried(world):
    expected = register_and_attend(world, 30)
    faults = world.org.sandbox.app.faults
    faults.configure(families=["hubspot.events", "hubspot.contacts"], error_rate=0.2,
                     rate_limit_rate=0.2, retry_after=None)
    report = world.sync("hybrid")
    faults.configure(**NO_FAULTS)
    assert report.status == "ok", report.error
    assert faults.stats["total"] >= 1
    assert_exactly_once(world, expected, 45)


def write_config(w: EventWorld, path: Path, method: str) -> Path:
    sb = w.org.sandbox
    path.write_text("\n".join([
        f'method = "{method}"',
        "[salesforce]", f'instance_url = "{sb.url}"', f'lead_external_id_field = "{EXT}"',
        "[hubspot]", f'base_url = "{sb.url}"',
        "[state]", f'path = "{w.org.state_path}"',
        "[sync]", f'start = "{WORLD_START}"', "batch_size = 10",
        "[[campaigns]]", f'event_id = "{w.event_id}"', f'campaign_id = "{w.event_campaign}"',
        'statuses = { registered = "Registered", attended = "Attended", no_show = "No Show", '
        'cancelled = "Cancelled" }', ""]))
    return path


@pytest.mark.parametrize("method", ["poi", "hybrid"])
def test_sigkill_at_random_moments_then_rerun(world, tmp_path, method):
    expected = register_and_attend(world, 60)
    world.org.sandbox.app.faults.configure(latency_ms=3)   # stretch the run: kills land mid-batch
    config = write_config(world, tmp_path / "c.toml", method)
    env = world.org.env(dict(os.environ))
    command = [sys.executable, "-m", "connector", "sync", "--config", str(config)]
    rng = random.Random(7)
    for _ in range(4):
        proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    final = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    world.org.sandbox.app.faults.configure(latency_ms=0)
    assert final.returncode == 0, final.stdout + final.stderr
    assert_exactly_once(world, expected, 90)


class Killed(BaseException):
    """A kill right after a write landed: nothing after it runs (not even the outcome)."""


@pytest.mark.parametrize("method,step", [
    ("hybrid", "create"), ("hybrid", "create_members"), ("hybrid", "update_mixed"),
    ("poi", "upsert"), ("poi", "create_members"), ("poi", "update_mixed")])
def test_a_kill_right_after_each_write_then_a_rerun(world, method, step):
    for i in range(6):
        world.record("registered", f"p{i}@example.com", lastname=f"L{i}")
    assert world.sync(method, **KEYED).status == "ok"
    for i in range(0, 6, 2):
        world.record("attended", f"p{i}@example.com")       # moves: update_mixed
    for i in range(6, 9):
        world.record("attended", f"p{i}@example.com", lastname=f"L{i}")  # new: create(s)
        world.record("registered", f"p{i}@example.com")     # and a late registration
    from connector.adapters.transport import RetryPolicy
    from connector.engine.wiring import Session

    with Session(world.settings(method, **KEYED), retry=RetryPolicy.fast()) as engine:
        original = getattr(engine.sf, step)

        def write_then_die(*args, **kw):
            original(*args, **kw)
            raise Killed(step)

        setattr(engine.sf, step, write_then_die)
        with pytest.raises(Killed):
            engine.run()
    with closing(State.open(world.org.state_path)) as state:
        assert any(r["status"] == "pending" for r in state.rows())   # killed mid-batch
    report = world.sync(method, **KEYED)
    assert report.status == "ok", report.error
    expected = {f"p{i}@example.com": "Attended" if i % 2 == 0 or i >= 6 else "Registered"
                for i in range(9)}
    assert_exactly_once(world, expected, 15)
