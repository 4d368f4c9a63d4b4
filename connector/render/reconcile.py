"""reconcile's report and fix preview in an admin's words (pure)."""

from __future__ import annotations

from typing import Any, Mapping

from connector.core.reconcile import DRIFT, INFO, Drift, FixPlan


def describe_plan(plan: FixPlan) -> list[str]:
    """The preview an admin confirms: one line per change."""
    lines = []
    for cid in plan.apply:
        lines.append(f"  apply response {cid} through the sync (the method decides: new Lead or attach)")
    for m in plan.memberships:
        merged = (f" ({m['sobject']} {m['record_id']} was merged into it; the ledger follows)"
                  if m.get("merged_into") else "")
        lines.append(f"  add {m['target_sobject']} {m['target_id']} ({m['email']}) to campaign "
                     f"{m['campaign_id']} as {m['status']!r}{merged}")
    for s in plan.statuses:
        lines.append(f"  set membership {s['member_id']} ({s['email']}) from {s['status']!r} to {s['expected']!r}")
    for r in plan.relinks:
        lines.append(f"  point the ledger row of {r['conversion_id']} ({r['email']}) at {r['sobject']} "
                     f"{r['merged_into']} and its membership {r['member_id']} ({r['record_id']} was merged into it)")
    return lines


TITLES = {
    "missed": "missed: in HubSpot, never in the ledger, behind the watermark (fixable)",
    "pending": "pending: a run died before recording the outcome (fixable)",
    "missing_membership": "missing membership: the record survives, its campaign membership is gone (fixable)",
    "status_differs": "status differs: the membership has not responded (fixable)",
    "broken_campaign": "campaign cannot take members: fix the [[campaigns]] entry or the campaign "
                       "named, then reconcile again (admin's call; --fix would fail on it)",
    "missing_record": "missing record: the Lead/Contact is gone (admin's call)",
    "duplicates": "duplicates: open Leads sharing an email (admin's call)",
    "parked": "parked: failed responses (admin's call: fix the cause, then retry)",
    "unsynced": "not yet synced: newer than the watermark; the next sync takes them (not drift)",
    "moved_on": "moved on: responded, then moved to another status (left alone by design; not drift)",
    "merged": "merged: the record was merged into another, the membership is on it (not drift; "
              "--fix points the ledger at it)",
}


def render(drift: Drift, *, since: str, responses: int, calls: Mapping[str, int]) -> str:
    lines = [f"Reconcile since {since}: {responses} HubSpot response(s) in the window; "
             f"Salesforce calls {calls.get('salesforce', 0)}, HubSpot calls {calls.get('hubspot', 0)}"]
    for name in DRIFT + INFO:
        rows = drift.items[name]
        if not rows:
            continue
        lines.append(f"  {len(rows):>5}  {TITLES[name]}")
        for item in rows[:50]:
            lines.append("         " + _item_line(name, item))
        if len(rows) > 50:
            lines.append(f"         ... and {len(rows) - 50} more (use --json for all)")
    lines.append("  clean: nothing to reconcile" if drift.total == 0 else
                 f"  drift: {drift.total} item(s), {drift.fixable} fixable with --fix")
    return "\n".join(lines)


def _item_line(name: str, i: Mapping[str, Any]) -> str:
    if name == "duplicates":
        leads = ", ".join(f"{lead['id']}{' (leadsync)' if lead['created_by_leadsync'] else ''}"
                          for lead in i["leads"])
        return f"{i['email']}: {leads}"
    head = f"{i.get('email') or '(no email)'} {i['conversion_id']} {i.get('submitted_at')}"
    if name == "parked":
        return f"{head}: {i.get('error')}"
    if name == "broken_campaign":
        return f"{head}: {i['would_be'].replace('_', ' ')}: {i['config']}"
    if name == "missing_record":
        return f"{head}: {i['sobject']} {i['record_id']} in campaign {i['campaign_id']}: {i['why']}"
    if name in ("missing_membership", "merged"):
        merged = f" merged into {i['merged_into']}" if i.get("merged_into") else ""
        return f"{head}: {i['sobject']} {i['record_id']}{merged} in campaign {i['campaign_id']}"
    if name in ("status_differs", "moved_on"):
        return f"{head}: {i['status']!r}, form says {i['expected']!r}"
    return head
