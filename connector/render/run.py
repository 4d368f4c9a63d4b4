"""A run report in an admin's words (pure: a RunReport in, lines of text out)."""

from __future__ import annotations

from connector.core.counts import Count
from connector.engine.report import RunReport

COUNT_LABELS = (
    (Count.CREATED_LEADS, "Leads created"),
    (Count.CREATED_CONTACTS, "Contacts created at a matched Account"),
    (Count.ATTACHED, "attached to an existing record"),
    (Count.STATUS_MOVES, "of those, a membership's status moved forward"),
    (Count.ALREADY_MEMBER, "already a campaign member"),
    (Count.FAILED, "failed (parked, see the reasons)"),
    (Count.SKIPPED, "already in the ledger (skipped)"),
)


def render(report: RunReport, *, detail: bool) -> str:
    lines = []
    title = "Dry run (nothing written)" if report.dry_run else "Sync"
    lines.append(f"{title} {report.run_id} · method {report.method.value} · {report.status}")
    if detail:
        for r in report.responses:
            email = r.get("email") or "(no email)"
            status = r.get("status")
            line = f"  {email:<36} {r['summary']}"
            if status == "failed" and r.get("error"):
                line = f"  {email:<36} failed: {r['error']}"
            lines.append(line)
            if r.get("reason") and r["action"] != "failed":
                lines.append(f"  {'':<36}   why: {r['reason']}")
            for detail_line in r.get("details") or ():
                lines.append(f"  {'':<36}   {detail_line}")
    total = report.counts.get(Count.PULLED, 0)
    lines.append(f"  {total} new response(s):")
    for key, label in COUNT_LABELS:
        if report.counts.get(key):
            lines.append(f"    {report.counts[key]:>6}  {label}")
    updated, tasks = report.counts.get(Count.UPDATED_RECORDS, 0), report.counts.get(Count.TASKS, 0)
    if updated or tasks:      # records, not responses: several responses may change one Lead
        lines.append(f"  and besides: {updated} existing Lead(s) and Contact(s) updated, "
                     f"{tasks} follow-up Task(s)")
    usage = ""
    if report.api_used is not None:
        usage = f"; org API usage {report.api_used}/{report.api_limit}"
    lines.append(f"  Salesforce calls {report.sf_calls}, HubSpot calls {report.hs_calls}{usage}; "
                 f"{report.seconds:.2f}s")
    for paused in report.paused:
        lines.append(f"  paused: {paused['message']}")
    for warning in report.warnings:
        lines.append(f"  warning: {warning['message']}")
    for group in report.refusal_groups():
        lines.append(f"  {group}")
    if report.error:
        lines.append(f"  stopped: {report.error}")
    return "\n".join(lines)
