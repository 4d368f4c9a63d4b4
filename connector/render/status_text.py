"""The status report in an admin's words (plain data in, text out)."""

from __future__ import annotations

from typing import Any, Mapping


def render_text(s: Mapping[str, Any]) -> str:
    """The summary in an admin's words."""
    lines = [f"leadsync status · state {s['state']}"]
    d = s["daemon"]
    lines.append(f"  daemon: running ({d['lock_holder']}; a daemon, or a sync in progress)" if d["running"]
                 else "  daemon: not running (no process holds the state lock)")
    usage = s["salesforce_api"]
    if usage:
        flag = "  OVER BUDGET" if usage["over_budget"] else ""
        lines.append(f"  Salesforce API usage last seen: {usage['used']}/{usage['limit']} "
                     f"({usage['share']:.0%} of the org's daily limit; budget {usage['budget_share']:.0%})"
                     f" at {usage['seen_at']}{flag}")
    else:
        lines.append("  Salesforce API usage: not seen yet")
    t = s["ledger"]
    lines.append(f"  ledger: {t['created_lead']} Leads created, {t['attached']} attached, "
                 f"{t['already_member']} already members, {t['failed']} parked, {t['pending']} pending")
    lines.append("  last runs:")
    if not s["runs"]:
        lines.append("    (none yet)")
    for r in s["runs"]:
        c = r["counts"]
        took = "" if r["seconds"] is None else f" {r['seconds']:.1f}s"
        lines.append(f"    {r['started_at']} {r['run_id']} {r['status']}{took} · pulled {c['pulled']}, "
                     f"created {c['created_leads']}, attached {c['attached']}, already {c['already_member']}, "
                     f"failed {c['failed']} · calls sf {r['salesforce_calls']} hs {r['hubspot_calls']}")
        if r["error"]:
            lines.append(f"      {r['error']}")
    lines.append("  watermarks (newest submission recorded, per form):")
    for w in s["watermarks"]:
        lines.append(f"    {w['form_id']} -> {w['campaign_id']}: {w['watermark'] or 'never synced'}")
    p = s["parked"]
    lines.append(f"  parked failures: {p['total']}")
    for reason in p["by_reason"]:
        lines.append(f"    {reason['count']:>6}  {reason['error_code']}  e.g. {reason['example']}")
    if s.get("lifecycle"):
        from connector.render.lifecycle import figures_text_from_json
        lines.append(figures_text_from_json(s["lifecycle"]))
    return "\n".join(lines)
