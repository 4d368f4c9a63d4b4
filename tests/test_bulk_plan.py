"""Which writes go through Bulk API 2.0: the one rule the writer and a dry run share."""

from __future__ import annotations

import pytest

from connector.core.bulk_plan import BulkPlan, count_writes, plan_batch, split_batches, through_bulk


@pytest.mark.parametrize("records, threshold, allowed, bulk", [
    (0, 0, True, False),            # nothing to write opens no job
    (1, 0, True, True),             # --bulk-threshold 0: every write goes through Bulk
    (10_000, 10_000, True, False),  # *more* than the threshold, not as many
    (10_001, 10_000, True, True),
    (50_000, 10_000, False, False),  # Leads without the external id (or with auto_assign)
    (9_999, 10_000, True, False),
])
def test_through_bulk(records, threshold, allowed, bulk):
    assert through_bulk(records, threshold, allowed=allowed) is bulk


@pytest.mark.parametrize("leads, members, threshold, leads_in_bulk, expected", [
    (12_000, 3_000, 10_000, True, (("bulk", 12_000, 1), ("collections", 3_000, 0))),
    (12_000, 3_000, 10_000, False, (("collections", 12_000, 0), ("collections", 3_000, 0))),
    (0, 20_000, 10_000, False, ((None, 0, 0), ("bulk", 20_000, 1))),
    (0, 0, 0, True, ((None, 0, 0), (None, 0, 0))),
    (5, 7, 0, True, (("bulk", 5, 1), ("bulk", 7, 1))),
])
def test_plan_batch_table(leads, members, threshold, leads_in_bulk, expected):
    routes = plan_batch(15_000, leads, members, threshold=threshold, leads_in_bulk=leads_in_bulk)
    got = tuple((w.via, w.records, w.jobs) for w in (routes.leads, routes.members))
    assert got == expected


@pytest.mark.parametrize("batches, leads_in_bulk, summary", [
    ([(15_000, 12_000, 3_000)], True,
     "would write 12,000 Leads through Bulk API 2.0 (1 job) and 3,000 members through collections"),
    ([(50_000, 20_000, 30_000), (50_000, 11_000, 4_000)], True,
     "would write 31,000 Leads through Bulk API 2.0 (2 jobs) and 34,000 members (30,000 through "
     "Bulk API 2.0 in 1 job, 4,000 through collections)"),
    ([(50_000, 20_000, 30_000)], False,
     "would write 20,000 Leads through collections and 30,000 members through Bulk API 2.0 (1 job)"),
    ([(3, 1, 0)], True, "would write 1 Lead through collections and no members"),
    ([], True, "would write no Leads and no members"),
])
def test_plan_summary_in_total(batches, leads_in_bulk, summary):
    plan = BulkPlan(10_000, leads_in_bulk=leads_in_bulk)
    for counts in batches:
        plan.add(*counts)
    assert plan.summary() == summary
    data = plan.to_json()
    assert data["summary"] == summary and len(data["batches"]) == len(batches)
    assert data["total"]["leads"]["jobs"] + data["total"]["members"]["jobs"] == sum(
        b["leads"]["jobs"] + b["members"]["jobs"] for b in data["batches"])


def test_plan_lines_show_each_batch_when_there_are_several():
    plan = BulkPlan(10_000, leads_in_bulk=True)
    plan.add(50_000, 20_000, 30_000)
    plan.add(1, 1, 1)
    lines = plan.lines()
    assert lines[0].startswith("  Dry run: would write 20,001 Leads")
    assert lines[1] == ("    batch 1 (50,000 responses): would write 20,000 Leads through Bulk "
                        "API 2.0 (1 job) and 30,000 members through Bulk API 2.0 (1 job)")
    assert lines[2] == ("    batch 2 (1 response): would write 1 Lead through collections and "
                        "1 member through collections")
    single = BulkPlan(0, leads_in_bulk=True)
    single.add(2, 1, 1)
    assert len(single.lines()) == 1


def test_count_writes_counts_the_plans_new_leads_and_members():
    lines = [
        {"action": "create_lead", "target": {"sobject": "Lead", "id": None}, "member": "create"},
        # a repeat fill of a person an earlier batch created: no new Lead, an existing member
        {"action": "create_lead", "target": {"sobject": "Lead", "id": "00Q1"}, "member": "exists"},
        {"action": "attach_contact", "target": {"sobject": "Contact", "id": "0031"},
         "member": "create"},
        {"action": "attach_lead", "target": {"sobject": "Lead", "id": "00Q2"}, "member": "update"},
        {"action": "failed", "target": None, "member": "none"},
    ]
    assert count_writes(lines) == (5, 1, 2)


@pytest.mark.parametrize("n, ends, sizes", [
    (5, [2, 4, 5], [2, 2, 1]),
    (5, [], [5]),              # no batch ends reported: one batch of everything
    (0, [], []),
    (4, [4], [4]),
    (5, [2], [2, 3]),          # lines past the last reported end still count
])
def test_split_batches(n, ends, sizes):
    lines = [{"i": i} for i in range(n)]
    parts = split_batches(lines, ends)
    assert [len(p) for p in parts] == sizes
    assert [line for part in parts for line in part] == lines
