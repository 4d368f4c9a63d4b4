"""The status report in an admin's words (plain data in, text out)."""

from __future__ import annotations

from typing import Any, Mapping


def render_text(s: Mapping[str, Any]) -> str:
    """The summary in an admin's words."""
    lines = [f"leadsync status · state {s['state']}"]
    if "headline" in s:
        lines.append(f"  {s['headline']}")
        lines.append(f"  times in {s['timezone']} (the routing time zone); {_names_said(s['names'])}")
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
                 f"{t['status_moved']} status moves, {t['already_member']} already members, "
                 f"{t['failed']} parked, {t['pending']} pending")
    lines.append("  last runs:")
    if not s["runs"]:
        lines.append("    (none yet)")
    views = s.get("run_rows") or [{} for _ in s["runs"]]
    for r, view in zip(s["runs"], views):
        c = r["counts"]
        took = "" if r["seconds"] is None else f" {r['seconds']:.1f}s"
        when = view.get("started_local") or r["started_at"]
        lines.append(f"    {when} {r['status']}{took} ({r['run_id']}) · pulled {c['pulled']}, "
                     f"created {c['created_leads']}, attached {c['attached']}, already {c['already_member']}, "
                     f"failed {c['failed']} · calls sf {r['salesforce_calls']} hs {r['hubspot_calls']}")
        if r["error"]:
            lines.append(f"      {view.get('error_line') or r['error']}")
    lines.append("  watermarks (newest submission recorded, per form):")
    for w, form in zip(s["watermarks"], s.get("forms") or [None] * len(s["watermarks"])):
        if form is None:
            lines.append(f"    {w['form_id']} -> {w['campaign_id']}: {w['watermark'] or 'never synced'}")
        else:
            lines.append(f"    {_named(form['form_name'], w['form_id'])} -> "
                         f"{_named(form['campaign_name'], w['campaign_id'])}: "
                         f"{form['newest_local'] or 'never synced'}")
    if s.get("owners"):
        lines.append("  owners (responses routed): " + ", ".join(
            f"{o['name']} {o['responses']}" for o in s["owners"]))
    warnings = s.get("warnings") or []
    if warnings:
        lines.append("  the last run went on without (fix the configuration or the org):")
        lines += [f"    {w['kind']}: {w['message']}" for w in warnings]
    left_out = (s.get("left_out") or {}).get("by_field")
    if left_out:
        lines.append(f"  answers the mapping left out, last {s['left_out']['days']} days (written "
                     "without them; the form or the mapping to fix): " + ", ".join(
                         f"{f['field']} {f['responses']}" for f in left_out))
    p = s["parked"]
    lines.append(f"  parked failures: {p['total']}")
    if s.get("parked_groups") is not None:
        for g in s["parked_groups"]:
            lines.append(f"    {g['count']:>6}  {g['category']} ({g['error_code']}): {g['advice']}")
    else:
        for reason in p["by_reason"]:
            lines.append(f"    {reason['count']:>6}  {reason['error_code']}  e.g. {reason['example']}")
    if s.get("lifecycle"):
        from connector.render.lifecycle import figures_text_from_json
        lines.append(figures_text_from_json(s["lifecycle"]))
    return "\n".join(lines)


def _named(name: str, the_id: str) -> str:
    """"Demo request (4f1c…)": the name people know, and the Id when they differ."""
    return the_id if name == the_id else f"{name} ({the_id})"


def _names_said(names: Mapping[str, Any]) -> str:
    if names["source"] == "api":
        return "names read from the APIs now"
    if names["source"] == "cache":
        return f"names from the copy read {names['read_ago']}"
    return "no names cached yet (make the HTML page once to read them)"
