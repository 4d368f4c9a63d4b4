"""What ``whatif`` tells about existing records and the sales team: the fields each method's
updates would change, counted by field, and the follow-up Tasks per owner; each checked
against a real sync of that method on a fresh copy of the demo world."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from connector.adapters.transport import RetryPolicy
from connector.commands.demo import add_sales_team, build_world, demo_settings
from connector.commands.whatif import run_whatif
from connector.core.model import Action, Decision, Enrichment, MemberAction, Method, TaskPick, Target
from connector.core.plan import RecordUpdate, Step, WritePlan
from connector.core.whatif import INTEGRATION_USER, WhatIf
from connector.engine.wiring import Session
from connector.render.whatif import to_text
from connector.sandbox import Sandbox

SINCE = "2000-01-01"
SYSTEM = {"LastModifiedDate", "SystemModstamp"}


@pytest.mark.parametrize("method", list(Method))
def test_field_changes_and_tasks_are_what_the_sync_then_does(method: Method, tmp_path: Path):
    with Sandbox() as sandbox:
        world = build_world(sandbox)
        settings = demo_settings(sandbox, world, tmp_path / "state.db", method,
                                 **add_sales_team(sandbox, world))
        tally = run_whatif(settings, since=SINCE, methods=[method]).whatif.methods[method]
        sf = sandbox.app.salesforce
        before = {o: {r["Id"]: dict(r) for r in sf.records(o)} for o in ("Lead", "Contact")}
        with Session(settings, retry=RetryPolicy.fast()) as engine:
            assert engine.run().status in ("ok", "partial")
        changed: Counter[str] = Counter()
        for sobject, records in before.items():
            for record in sf.records(sobject):
                old = records.get(record["Id"])
                for name, value in (record.items() if old else ()):
                    if name not in SYSTEM and old.get(name) != value:
                        changed[f"{sobject}.{name}"] += 1
        assert tally.field_changes == changed
        tasks = Counter(task.get("OwnerId") or INTEGRATION_USER for task in sf.records("Task"))
        assert tally.tasks_by_owner == tasks
        assert sum(tasks.values()) > 0


def test_the_text_report_names_owners_and_counts_fields(tmp_path: Path):
    with Sandbox() as sandbox:
        world = build_world(sandbox)
        settings = demo_settings(sandbox, world, tmp_path / "state.db", Method.UNIQUE,
                                 **add_sales_team(sandbox, world))
        result = run_whatif(settings, since=SINCE, methods=list(Method))
    text = to_text(result)
    unique = result.whatif.methods[Method.UNIQUE]
    assert "Field changes under unique: " in text
    line = next(x for x in text.splitlines() if x.strip().startswith("Field changes under unique"))
    for name, n in unique.field_changes.items():
        assert f"{name} {n}" in line
    tasks = next(x for x in text.splitlines() if x.strip().startswith("Tasks under hybrid"))
    assert "maria@sales.example" in tasks          # the configured Task owner, by name
    for owner in result.whatif.methods[Method.HYBRID].tasks_by_owner:
        if owner in result.names.owners:
            assert owner not in tasks                # named owners never show as bare Ids


def test_updates_merged_per_record_count_once_per_field():
    """The plan merges a batch's updates of one record: each field is one change."""
    def step(cid: str, owner: str | None) -> Step:
        decision = Decision(None, cid, Action.ATTACH_LEAD, Target("Lead", "00Q1"), "known")
        return Step(decision, MemberAction.NONE,
                    enrichment=Enrichment(task=TaskPick("2024-01-01", owner), stage="sales_ready"))
    plan = WritePlan(steps=[step("a", "005A"), step("b", None)],
                     updates=[RecordUpdate("Lead", "00Q1", {"Title": "CTO", "Status": "Working"},
                                           ["a", "b"]),
                              RecordUpdate("Contact", "0031", {"Title": "CEO"}, ["c"])])
    whatif = WhatIf.of([Method.UNIQUE])
    whatif.add_plan(Method.UNIQUE, plan)
    tally = whatif.methods[Method.UNIQUE]
    assert tally.field_changes == Counter({"Lead.Title": 1, "Lead.Status": 1, "Contact.Title": 1})
    assert tally.tasks_by_owner == Counter({"005A": 1, INTEGRATION_USER: 1})
    assert tally.handoffs == 2 and tally.attached_to_leads == 2
